"""Time to the first frame of the cockpit against a minimal Textual app, on a pty of 80×24.

Each round starts `shipdeck release` on a fresh demo world (built before the clock starts)
and a minimal Textual app, interleaved so a noisy moment hits both; the time is from the
process start to the moment the terminal received the checklist's first group title (the
cockpit) or the app's one line (the minimal app). Prints medians and their ratio.

    .venv/bin/python benchmarks/cockpit_first_frame.py [--runs 7] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import statistics
import uuid
import sys
import tempfile
from pathlib import Path

from cockpit_watch import MINIMAL, environment, first_frame
from cockpit_wire import MARKER, stop_marked

from shipdeck.core.sandbox.demo import build_demo_world


def cockpit_argv(root: Path) -> list[str]:
    world = build_demo_world(root, "healthy", pace="cockpit")
    return [str(Path(sys.executable).parent / "shipdeck"), "release", "--config", str(world.config), "--repo", str(world.repo),
            "--yes", "--force"]


def first_frame_then_stop(argv: list[str], env: dict[str, str], marker: bytes) -> float:
    try:
        return first_frame(argv, env, marker)
    finally:
        stop_marked(env[MARKER])  # a runner that outlives its cockpit too


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ["SHIPDECK_USER"] = "bench"  # the demo config gives this person every role
    cockpit: list[float] = []
    minimal: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shipdeck-first-frame-") as directory:
        root = Path(directory)
        for run in range(args.runs + 1):  # round 0 warms the page cache and bytecode
            world = root / f"world-{run}"
            argv = cockpit_argv(world)
            env = {**environment(world), MARKER: uuid.uuid4().hex}
            took_minimal = first_frame_then_stop([sys.executable, "-c", MINIMAL], env, b"first-frame-marker")
            took_cockpit = first_frame_then_stop(argv, env, b"PRE-RELEASE")
            if run:
                minimal.append(took_minimal)
                cockpit.append(took_cockpit)
    ratio = statistics.median(cockpit) / statistics.median(minimal)
    print(f"time to first frame on a pty of 80x24, median of {args.runs} interleaved runs")
    print(f"  cockpit (shipdeck release, demo world): {statistics.median(cockpit) * 1000:6.0f} ms"
          f"  (min {min(cockpit) * 1000:.0f}, max {max(cockpit) * 1000:.0f})")
    print(f"  minimal Textual app:                    {statistics.median(minimal) * 1000:6.0f} ms"
          f"  (min {min(minimal) * 1000:.0f}, max {max(minimal) * 1000:.0f})")
    print(f"  ratio {ratio:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
