"""Time to the first frame of the cockpit against a minimal Textual app, on a pty of 80×24.

Each round starts, interleaved so a noisy moment hits them all:
  - `shipdeck release` on a fresh demo world (built before the clock starts): the cockpit
    starts the runner process and its own first frame ("starting the release runner…") in
    parallel; measured to that first frame, and to the checklist once it has attached;
  - the cockpit showing that release from its journal with nothing else in the process (the
    views of `shipdeck.tui.app` on a folded state, no runner): what a cockpit attached to a
    runner in another process pays;
  - a minimal Textual app.
The time is from the process start to the moment the terminal received the first frame's
text: the starting state or the checklist's first group title (the cockpit), the app's one
line (the minimal app). Prints medians and ratios.

    .venv/bin/python benchmarks/cockpit_first_frame.py [--runs 7] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import statistics
import uuid
import sys
import tempfile
from pathlib import Path

from cockpit_watch import MINIMAL, Terminal, environment, first_frame
from cockpit_wire import MARKER, stop_marked

from shipdeck.core.sandbox.demo import build_demo_world


def cockpit_argv(root: Path) -> list[str]:
    world = build_demo_world(root, "healthy", pace="cockpit")
    return [str(Path(sys.executable).parent / "shipdeck"), "release", "--config", str(world.config), "--repo", str(world.repo),
            "--yes", "--force"]


JOURNAL_VIEW = """
import sys
from pathlib import Path
from shipdeck.core.commands import Authority
from shipdeck.core.journal import Journal
from shipdeck.core.machine import fold
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.cockpit_info import CockpitInfo

class JournalLink:
    def __init__(self, events):
        self.state = fold(events)
    def subscribe(self, subscriber):
        pass
    def submit(self, command):
        raise RuntimeError("read-only")
    async def run(self):
        return self.state
    def stop(self):
        pass

events = Journal(Path(sys.argv[1])).load(repair=False)
info = CockpitInfo(identity="bench", authority=Authority(roles={}, approving_roles=(), rollback_roles=()))
ShipdeckApp(JournalLink(events), info, history=events, start_runner=False).run()
"""


def journal_of(world: Path) -> Path:
    journals = sorted(world.rglob("releases/*.jsonl")) or sorted(world.rglob("*.jsonl"))
    if not journals:
        raise SystemExit(f"the cockpit run left no journal under {world}")
    return journals[-1]


def first_frame_then_stop(argv: list[str], env: dict[str, str], marker: bytes) -> float:
    try:
        return first_frame(argv, env, marker)
    finally:
        stop_marked(env[MARKER])  # a runner that outlives its cockpit too


def frames_then_stop(argv: list[str], env: dict[str, str], first: bytes, then: bytes) -> tuple[float, float]:
    """Seconds to `first` on the terminal, and to `then` (which may come in a later frame)."""
    terminal = Terminal(argv, env)
    try:
        return terminal.wait_for(first, 60) - terminal.started, terminal.wait_for(then, 60) - terminal.started
    finally:
        terminal.close()
        stop_marked(env[MARKER])


STARTING = "starting the release runner".encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE: every run compiles shipdeck's sources")
    args = parser.parse_args()
    os.environ["SHIPDECK_USER"] = "bench"  # the demo config gives this person every role
    cockpit: list[float] = []
    checklist: list[float] = []
    attached: list[float] = []
    minimal: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shipdeck-first-frame-") as directory:
        root = Path(directory)
        for run in range(args.runs + 1):  # round 0 warms the page cache and bytecode
            world = root / f"world-{run}"
            argv = cockpit_argv(world)
            env = {**environment(world), MARKER: uuid.uuid4().hex}
            if not args.no_bytecode:
                # An installed shipdeck runs from bytecode; round 0 writes it (Textual's came with its wheel).
                env.pop("PYTHONDONTWRITEBYTECODE", None)
            took_minimal = first_frame_then_stop([sys.executable, "-c", MINIMAL], env, b"first-frame-marker")
            took_cockpit, took_checklist = frames_then_stop(argv, env, STARTING, b"PRE-RELEASE")
            # The header's clock: always in the cockpit's first frame, however far the release got
            # (the checklist may have scrolled PRE-RELEASE away by the time the runner was stopped).
            took_attached = first_frame_then_stop([sys.executable, "-c", JOURNAL_VIEW, str(journal_of(world))], env, b"elapsed")
            if run:
                minimal.append(took_minimal)
                cockpit.append(took_cockpit)
                checklist.append(took_checklist)
                attached.append(took_attached)
    baseline = statistics.median(minimal)
    print(f"time to first frame on a pty of 80x24, median of {args.runs} interleaved runs (ratio to the minimal app)")
    for name, times in (("shipdeck release: first frame (starting)", cockpit),
                        ("shipdeck release: checklist (attached)", checklist),
                        ("cockpit on the release's journal only", attached),
                        ("minimal Textual app", minimal)):
        median = statistics.median(times)
        print(f"  {name:<40} {median * 1000:6.0f} ms  (min {min(times) * 1000:4.0f}, max {max(times) * 1000:4.0f})"
              f"  {median / baseline:5.2f}x")
    print("  target: <= 1.50x for the first frame (the checklist waits for the runner to plan the release)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
