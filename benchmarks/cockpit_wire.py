"""What the cockpit costs on the wire: bytes per second through a real SSH session at 80×24.

Starts its own sshd on 127.0.0.1 (see loopback_sshd.py; installs openssh-server when it is
missing, needs root), then, through `ssh -tt` in an 80×24 pseudo-terminal, in one run:
  - the cockpit of the demo world in a steady watch (1 s metric samples, a 30 min deploy window
    and a 2 h post-release watch, as a real config has them) for --seconds;
  - a baseline: three textual-plotext charts, each given a sample and redrawn once a second.
Prints the bytes per second the terminal received (what the application wrote, decrypted)
and what the ssh client read from its socket (encrypted, with SSH's framing), and the ratios.
The time to the first frame is benchmarks/cockpit_first_frame.py's (medians of many runs).

    .venv/bin/python benchmarks/cockpit_wire.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cockpit_watch import Terminal
from loopback_sshd import LoopbackSshd

from shipdeck.core.sandbox.demo import build_demo_world

SETTLE = 3.0  # seconds after the watch starts (or the baseline's first frame) before counting
MARKER = "SHIPDECK_WIRE_BENCH"  # in the environment of everything a run starts, to stop it after

PLOTEXT_CHARTS = """
import random
from textual.app import App
from textual.containers import Vertical
from textual_plotext import PlotextPlot

class Charts(App):
    def compose(self):
        with Vertical():
            for name in ("error_rate", "p95_latency", "queue_depth"):
                yield PlotextPlot(id=name)

    def on_mount(self):
        self.values = {name: [] for name in ("error_rate", "p95_latency", "queue_depth")}
        self.tick()
        self.set_interval(1.0, self.tick)

    def tick(self):
        for name, values in self.values.items():
            values.append(random.uniform(0.5, 1.5))
            plot = self.query_one(f"#{name}", PlotextPlot)
            plot.plt.clear_data()
            plot.plt.title(f"{name} plotext-marker")
            plot.plt.plot(values)
            plot.refresh()

Charts().run()
"""


@dataclass
class Wire:
    """Bytes per second over the measured span."""

    terminal: float
    socket: float
    seconds: float


def socket_bytes(pid: int) -> int:
    """Bytes the ssh client has read so far: its socket, as the only thing it reads from in a run."""
    match = re.search(r"^rchar:\s+(\d+)", Path(f"/proc/{pid}/io").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def stop_marked(token: str) -> None:
    """Stop every process started with our marker (a runner that detached from the session too)."""
    needle = f"{MARKER}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue  # gone already, or not ours to read


def remote(command: list[str], env: dict[str, str], token: str) -> str:
    assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in {**env, MARKER: token}.items())
    return f"exec env {assignments} {shlex.join(command)}"


def measure(terminal: Terminal, seconds: float) -> Wire:
    pid = terminal.process.pid
    mark, socket_start, started = len(terminal.output), socket_bytes(pid), time.perf_counter()
    terminal.pump(seconds)
    elapsed = time.perf_counter() - started
    written = sum(len(chunk) for _, chunk in terminal.output[mark:])
    if terminal.process.poll() is not None:
        raise SystemExit(f"the ssh session ended during the measurement (exit {terminal.process.returncode})")
    return Wire(written / elapsed, (socket_bytes(pid) - socket_start) / elapsed, elapsed)


def demo_world(root: Path) -> tuple[Path, Path]:
    world = build_demo_world(root, "healthy", pace="cockpit")
    text = world.config.read_text(encoding="utf-8")
    text = re.sub(r'deploy_window = "[^"]*"', 'deploy_window = "30m"', text)
    text = re.sub(r'post_release = "[^"]*"', 'post_release = "2h"', text)
    text = re.sub(r'interval = "[^"]*"', 'interval = "1s"', text)
    world.config.write_text(text, encoding="utf-8")
    return world.config, world.repo


def run_session(sshd: LoopbackSshd, command: str, ready: bytes, seconds: float, token: str) -> Wire:
    """Bytes per second of one ssh session once `ready` was on screen and it settled."""
    terminal = Terminal(sshd.client_argv(command), dict(os.environ, TERM="xterm-256color"))
    try:
        terminal.wait_for(ready, 120)
        return measure_after(terminal, seconds)
    finally:
        terminal.close()
        stop_marked(token)


def measure_after(terminal: Terminal, seconds: float) -> Wire:
    terminal.pump(SETTLE)
    return measure(terminal, seconds)


def cockpit(sshd: LoopbackSshd, root: Path, seconds: float, token: str) -> tuple[float, Wire]:
    config, repo = demo_world(root / "cockpit")
    env = {"SHIPDECK_USER": "bench", "SHIPDECK_STATE_DIR": str(root / "cockpit" / "state"), "TZ": "UTC", "TERM": "xterm-256color"}
    command = remote([str(Path(sys.executable).parent / "shipdeck"), "release", "--config", str(config), "--repo", str(repo),
                      "--yes", "--force"], env, token)
    terminal = Terminal(sshd.client_argv(command), dict(os.environ, TERM="xterm-256color"))
    try:
        watch = terminal.wait_for(b"WATCH", 300) - terminal.started
        return watch, measure_after(terminal, seconds)
    finally:
        terminal.close()
        stop_marked(token)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each steady state is measured")
    args = parser.parse_args()
    os.environ["SHIPDECK_USER"] = "bench"  # the demo config gives this person every role
    token = uuid.uuid4().hex
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="shipdeck-wire-") as directory:
        root = Path(directory)
        (root / "charts.py").write_text(PLOTEXT_CHARTS, encoding="utf-8")
        env = {"TERM": "xterm-256color"}
        with LoopbackSshd(root / "sshd") as sshd:
            watch_at, cockpit_wire = cockpit(sshd, root, args.seconds, token)
            charts_wire = run_session(sshd, remote([python, str(root / "charts.py")], env, token), b"plotext-marker",
                                         args.seconds, token)
    print(f"through ssh -tt on a loopback sshd, pty 80x24, {args.seconds:g}s of steady state each (after {SETTLE:g}s settling)")
    print(f"{'':44} {'terminal':>12} {'ssh socket':>12}")
    print(f"{'cockpit, demo in a steady watch (1s samples)':44} {cockpit_wire.terminal / 1024:>8.2f} KB/s {cockpit_wire.socket / 1024:>7.2f} KB/s")
    print(f"{'three textual-plotext charts at 1 Hz':44} {charts_wire.terminal / 1024:>8.2f} KB/s {charts_wire.socket / 1024:>7.2f} KB/s")
    print(f"  cockpit / plotext charts: {cockpit_wire.terminal / charts_wire.terminal:.2f} (terminal bytes),"
          f" {cockpit_wire.socket / charts_wire.socket:.2f} (socket bytes); target <= 2 KB/s for the cockpit")
    print(f"  (the cockpit's watch started {watch_at:.0f}s after ssh was started)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
