"""`shipdeck demo` in a real terminal: tmux at 80×24, keys sent, the screen read back.

CI sets SHIPDECK_REQUIRE_TMUX=1 (and `.ci/run` installs tmux): there a missing tmux fails
the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("SHIPDECK_REQUIRE_TMUX") == "1":
            pytest.fail("tmux is not installed but SHIPDECK_REQUIRE_TMUX=1: install tmux (see .ci/run)")
        pytest.skip("tmux is not installed (set SHIPDECK_REQUIRE_TMUX=1 to make this a failure)")
    return tmux


def test_demo_cockpit_in_tmux(tmp_path):
    tmux = _tmux()
    socket = f"shipdeck-e2e-{os.getpid()}"  # our own server: inherits this test's environment
    shipdeck = str(Path(sys.executable).with_name("shipdeck"))
    base = [tmux, "-L", socket, "-f", os.devnull]

    def screen() -> str:
        return subprocess.run([*base, "capture-pane", "-p", "-t", "e2e"], capture_output=True, text=True, check=True).stdout

    def wait_for(text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")

    def keys(*sent: str) -> None:
        subprocess.run([*base, "send-keys", "-t", "e2e", *sent], check=True)

    # `; sleep` keeps the pane (and what the cockpit left on it) readable after it exits.
    world = tmp_path / "demo"
    command = f"{shipdeck} demo --dir {world} --scenario healthy --pace demo; echo EXIT=$?; sleep 30"
    subprocess.run([*base, "new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", command], check=True, env=dict(os.environ, TERM="xterm-256color"))
    try:
        shown = wait_for("waiting for approval")
        assert "PRE-RELEASE" in shown and "Roll back" in shown
        assert "REHEARSAL v1.4.0" in shown  # a demo is marked as such on the screen too
        assert "unavailable" in shown  # the rollback control says why before the deploy
        assert all(len(line) <= 80 for line in shown.splitlines())

        keys("q")  # quitting mid-release asks first, says how to resume; staying keeps it going
        wait_for("to continue from here")
        keys("n")
        wait_for("Roll back")

        keys("a")
        shown = wait_for("tasks")  # deploy progress: tasks healthy vs desired
        assert "phase DEPLOY" in shown

        keys("n")
        notes = wait_for("esc Back")
        assert "New Features" in notes and "Record where an application came from (#47)" in notes
        # A commit message is shown literally, never run as markup (it would quit the app).
        assert "[@click=app.quit] handle [/b] and [TODO] in tracker" in notes
        keys("Escape")
        time.sleep(0.5)  # let the lone Escape be read as a key, not the start of "alt+q"
        wait_for("Roll back")

        shown = wait_for("phase DONE", timeout=120)  # the healthy demo is released, not just started
        assert "v1.4.0" in shown
        keys("q")  # a finished release quits without asking
        shown = wait_for("EXIT=", timeout=15)
        assert "EXIT=0" in shown, shown
        tags = subprocess.run(["git", "-C", str(world / "origin.git"), "tag", "--list", "v1.4.0"], capture_output=True, text=True, check=True)
        assert tags.stdout.strip() == "v1.4.0"
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)
