"""The cockpit in a real terminal (tmux, 80×24) attached to its runner process.

Killing the tmux server hangs up the cockpit (SIGHUP), as a dropped SSH connection does; the
release must go on in its runner, and `shipdeck` in a new terminal re-attaches to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from attach_support import kill_runner, wait_for, world_store
from cli_support import fast_world, journal_events

from shipdeck.core.lock import current_holder

pytestmark = pytest.mark.slow


class Terminal:
    """One tmux server of our own with one 80×24 pane running `command`."""

    def __init__(self, name: str, command: str) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            if os.environ.get("SHIPDECK_REQUIRE_TMUX") == "1":
                pytest.fail("tmux is not installed but SHIPDECK_REQUIRE_TMUX=1")
            pytest.skip("tmux is not installed")
        self.base = [tmux, "-L", f"{name}-{os.getpid()}", "-f", os.devnull]
        subprocess.run([*self.base, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command],
                       check=True, env=dict(os.environ, TERM="xterm-256color"))

    def screen(self) -> str:
        return subprocess.run([*self.base, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")

    def keys(self, *sent: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "t", *sent], check=True)

    def hang_up(self) -> None:
        """Kill the server: the pane's processes get SIGHUP, like a dropped SSH session."""
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def _cli(world, *args: str) -> str:
    shipdeck = str(Path(sys.executable).with_name("shipdeck"))
    return f"{shipdeck} --config {world.config} --repo {world.repo} {' '.join(args)}; echo EXIT=$?; sleep 30"


@contextmanager
def _waiting_release(world, name: str):
    """`shipdeck release` in a terminal, waiting for approval; hung up and its runner killed after."""
    terminal = Terminal(name, _cli(world, "release"))
    pid = 0
    try:
        terminal.wait_for("waiting for approval")
        pid = _runner_pid(world)
        yield terminal, pid
    finally:
        terminal.hang_up()
        if pid:
            kill_runner(pid)


def _runner_pid(world) -> int:
    holder = current_holder(world_store(world).lock_path)
    assert holder is not None, "no runner holds the release"
    return holder.pid


def test_hanging_up_the_cockpit_mid_deploy_leaves_the_release_running_and_a_breach_is_rolled_back(tmp_path: Path) -> None:
    world = fast_world(tmp_path, scenario="regression")
    terminal = Terminal("hangup", _cli(world, "release", "--yes"))
    pid = 0
    try:
        wait_for(world, lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy")
        pid = _runner_pid(world)
        terminal.hang_up()
        rolled = wait_for(world, lambda e: e["kind"] == "rollback_requested", timeout=90)
        assert rolled["data"]["automatic"] is True
        notes = [e["data"]["message"] for e in journal_events(world) if e["kind"] == "note"]
        assert any("rolled back on its own while nobody was attached" in n for n in notes)
    finally:
        terminal.hang_up()
        if pid:
            kill_runner(pid)


def test_shipdeck_in_a_new_terminal_re_attaches_to_the_waiting_release(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    with _waiting_release(world, "first") as (first, pid):
        first.keys("q")
        first.wait_for("closes this view")
        first.keys("y")
        shown = first.wait_for("EXIT=")
        assert "EXIT=4" in shown and "detached;" in shown
        first.hang_up()
        time.sleep(0.5)
        assert _runner_pid(world) == pid  # the same runner still holds the release
        second = Terminal("second", _cli(world))
        try:
            shown = second.wait_for("waiting for approval")
            assert "v1.4.0" in shown
            second.keys("a")
            second.wait_for("phase DONE", timeout=120)
            assert _ends(world, 30), "the runner should end with the release"
        finally:
            second.hang_up()


def _ends(world, timeout: float) -> bool:
    """The runner (not our child: its parent was the CLI) let go of the release within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if current_holder(world_store(world).lock_path) is None:
            return True
        time.sleep(0.1)
    return False


def test_watch_opens_the_cockpit_read_only_beside_the_captains(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    with _waiting_release(world, "captain") as (captain, _pid):
        viewer = Terminal("viewer", _cli(world, "watch"))
        try:
            viewer.wait_for("waiting for approval")
            viewer.keys("a")
            viewer.wait_for("read-only view")  # the runner's refusal, shown to the viewer
            assert not [e for e in journal_events(world) if e["kind"] == "approval_granted"]
            captain.keys("a")
            wait_for(world, lambda e: e["kind"] == "approval_granted")
            viewer.wait_for("phase DONE", timeout=120)  # the viewer follows live to the end
        finally:
            viewer.hang_up()
