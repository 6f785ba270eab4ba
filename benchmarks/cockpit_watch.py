"""The cockpit through a time-compressed four-hour watch, on a real pseudo-terminal at 80×24.

Prints, measured side by side in one run:
  - CPU seconds per wall second of the cockpit process while it watches (runner included),
    next to the same watch run headless (`--auto`), so the cockpit's own share shows;
  - resident memory when the watch starts and when it ends (it must not grow with the watch);
  - bytes written to the terminal per refresh (frames are counted by the synchronized-output
    markers Textual writes once the terminal says it supports them — we answer that query);
  - time to first frame of the cockpit against a minimal Textual app (ratio).

    .venv/bin/python benchmarks/cockpit_watch.py [--speed 240] [--hours 4] [--interval 15s]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from shipdeck.core.sandbox.demo import build_demo_world

SYNC_QUERY = b"\x1b[?2026$p"
SYNC_SUPPORTED = b"\x1b[?2026;2$y"
FRAME_START = b"\x1b[?2026h"
TICKS = os.sysconf("SC_CLK_TCK")

COCKPIT = """
import sys
from pathlib import Path
from shipdeck.core.clock import ScaledClock
from shipdeck.core.session import Options, open_session
from shipdeck.tui.{module} import {function}
options = Options(config_path=Path({config!r}), repo_path=Path({repo!r}), interactive={interactive}, auto={auto},
                  force=True, assume_yes=True, command_name="bench")
session = open_session(options, ScaledClock({speed}))
sys.exit({call})
"""
MINIMAL = """
from textual.app import App
from textual.widgets import Static
class Minimal(App):
    def compose(self):
        yield Static("first-frame-marker")
Minimal().run()
"""


@dataclass
class Terminal:
    """A child process on a pty of 80×24 that we read (and answer terminal queries for)."""

    argv: list[str]
    env: dict[str, str]
    started: float = 0.0
    output: list[tuple[float, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env, close_fds=True)
        os.close(slave)

    def pump(self, seconds: float) -> None:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            self.output.append((time.perf_counter(), chunk))
            if SYNC_QUERY in chunk:
                os.write(self.master, SYNC_SUPPORTED)

    def wait_for(self, needle: bytes, timeout: float) -> float:
        """Pump until `needle` was written; returns when (perf_counter)."""
        deadline = time.perf_counter() + timeout
        seen = 0
        tail = b""
        while time.perf_counter() < deadline:
            self.pump(0.05)
            for at, chunk in self.output[seen:]:
                tail = (tail + chunk)[-4096:]
                if needle in tail:
                    return at
            seen = len(self.output)
            if self.process.poll() is not None:
                break
        tail = b"".join(chunk for _, chunk in self.output[-20:])[-1500:]
        raise TimeoutError(f"{needle!r} not written within {timeout}s; last output: {tail!r}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self.master)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def make_world(root: Path, hours: float, interval: str) -> tuple[Path, Path]:
    world = build_demo_world(root, "healthy")
    text = world.config.read_text(encoding="utf-8")
    post_minutes = int(hours * 60 - 30)
    text = re.sub(r'deploy_window = "[^"]*"', 'deploy_window = "30m"', text)
    text = re.sub(r'post_release = "[^"]*"', f'post_release = "{post_minutes}m"', text)
    text = re.sub(r'interval = "[^"]*"', f'interval = "{interval}"', text)
    text = re.sub(r'blind_after = "[^"]*"', 'blind_after = "2m"', text)  # a blind series must span polls
    world.config.write_text(text, encoding="utf-8")
    return world.config, world.repo


def environment(root: Path) -> dict[str, str]:
    return dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24", SHIPDECK_USER="bench",
                SHIPDECK_STATE_DIR=str(root / "state"), TZ="UTC")


def first_frame(argv: list[str], env: dict[str, str], marker: bytes) -> float:
    terminal = Terminal(argv, env)
    try:
        return terminal.wait_for(marker, 60) - terminal.started
    finally:
        terminal.close()


def run_cockpit(root: Path, speed: float, hours: float, interval: str) -> dict[str, float]:
    config, repo = make_world(root / "cockpit", hours, interval)
    code = COCKPIT.format(module="app", function="run_cockpit", config=str(config), repo=str(repo), interactive=True,
                          auto=False, speed=speed, call="run_cockpit(session)")
    terminal = Terminal([sys.executable, "-c", code], environment(root / "cockpit"))
    try:
        first = terminal.wait_for(b"PRE-RELEASE", 60) - terminal.started
        watch_started = terminal.wait_for(b"WATCH", 120)
        terminal.pump(2.0)  # past the first samples: measure the steady state
        pid = terminal.process.pid
        cpu_start, rss_start, wall_start, mark = cpu_seconds(pid), rss_mib(pid), time.perf_counter(), len(terminal.output)
        terminal.wait_for(b"DONE", hours * 3600 / speed * 1.5 + 60)
        cpu_end, rss_end, wall_end = cpu_seconds(pid), rss_mib(pid), time.perf_counter()
        steady = b"".join(chunk for _, chunk in terminal.output[mark:])
        frames = steady.count(FRAME_START)
        terminal.pump(1.0)
        os.write(terminal.master, b"q")
        terminal.process.wait(timeout=30)
    finally:
        terminal.close()
    wall = wall_end - wall_start
    return {
        "first_frame": first,
        "watch_wall": wall,
        "cpu_per_wall": (cpu_end - cpu_start) / wall,
        "rss_start": rss_start,
        "rss_end": rss_end,
        "frames": frames,
        "bytes": len(steady),
        "bytes_per_frame": len(steady) / frames if frames else float("nan"),
        "watch_started_at": watch_started - terminal.started,
    }


def run_headless(root: Path, speed: float, hours: float, interval: str) -> float:
    """CPU per wall second of the same release headless: the engine's own share."""
    config, repo = make_world(root / "headless", hours, interval)
    code = COCKPIT.format(module="commands.run", function="run_headless", config=str(config), repo=str(repo),
                          interactive=False, auto=True, speed=speed, call="run_headless(session, False)")
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=environment(root / "headless"))
    usage_before = os.times()
    process.wait()
    usage_after = os.times()
    wall = time.perf_counter() - started
    cpu = (usage_after.children_user - usage_before.children_user) + (usage_after.children_system - usage_before.children_system)
    return cpu / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=240.0, help="clock compression (240: four hours in a minute)")
    parser.add_argument("--hours", type=float, default=4.0, help="watch length: 30m deploy window + the rest post-release")
    parser.add_argument("--interval", default="15s", help="metrics poll interval in watch time")
    args = parser.parse_args()
    os.environ["SHIPDECK_USER"] = "bench"  # the demo config gives this person every role (it approves with --yes)
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as directory:
        root = Path(directory)
        minimal = first_frame([sys.executable, "-c", MINIMAL], environment(root), b"first-frame-marker")
        cockpit = run_cockpit(root, args.speed, args.hours, args.interval)
        headless = run_headless(root, args.speed, args.hours, args.interval)
    samples = args.hours * 3600 / float(args.interval.rstrip("s")) * 3
    print(f"cockpit through a {args.hours:g}h watch at {args.speed:g}x ({cockpit['watch_wall']:.0f}s wall, ~{samples:.0f} samples), pty 80x24")
    print(f"  CPU per wall second (cockpit process, runner included): {cockpit['cpu_per_wall']:.3f}")
    print(f"  CPU per wall second (same release headless):             {headless:.3f}")
    print(f"  RSS at watch start / end: {cockpit['rss_start']:.1f} MiB / {cockpit['rss_end']:.1f} MiB")
    print(f"  terminal output while watching: {cockpit['bytes']} bytes in {cockpit['frames']} frames"
          f" = {cockpit['bytes_per_frame']:.0f} bytes per refresh ({cockpit['frames'] / cockpit['watch_wall']:.1f} refreshes/s)")
    print(f"  time to first frame: cockpit {cockpit['first_frame']:.2f}s, minimal Textual app {minimal:.2f}s,"
          f" ratio {cockpit['first_frame'] / minimal:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
