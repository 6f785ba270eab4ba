"""Untrusted text (commit subjects, log lines, refusals) is shown literally and never reaches
the terminal as markup, an action or an escape sequence.

Two views: what the widgets display (in-process), and the bytes the app writes to a real
pseudo-terminal (a subprocess on a pty at 80×24).
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from textual.widgets import Static
from tui_fixtures import CORPUS_ESCAPES, CORPUS_LITERALS, deploying, frozen_app, utc, waiting_for_approval, write_notes  # noqa: F401

from shipdeck.screens.step_detail import StepDetailScreen
from shipdeck.tui.widgets.deploy_progress import DeployProgress

pytestmark = pytest.mark.anyio
TESTS = Path(__file__).parent


async def test_step_summary_shows_the_corpus_literally_and_clicking_it_does_nothing():
    app = frozen_app(waiting_for_approval())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("up", "up", "enter")
        assert isinstance(app.screen, StepDetailScreen)
        text = str(app.screen.query_one("#step-detail-text", Static).render())
        for literal in CORPUS_LITERALS:
            assert literal in text
        assert "\x1b" not in text and "\x9b" not in text
        # Were it markup, this would be a link running app.quit.
        await pilot.click("#step-detail-text", offset=(4, 5))
        await pilot.pause()
        assert app.is_running


async def test_deploy_log_shows_the_corpus_literally():
    app = frozen_app(deploying(progress_ticks=2))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        text = str(app.screen.query_one(DeployProgress).render())
        assert "[@click=app.quit] handle [/b] and [TODO]" in text
        assert "\x1b" not in text


def _read(master: int, seconds: float) -> bytes:
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                chunks.append(os.read(master, 65536))
            except OSError:
                break
    return b"".join(chunks)


def test_bytes_written_to_the_terminal_carry_no_injected_escape(tmp_path):
    write_notes(tmp_path)
    code = (
        "import os, sys, time; from pathlib import Path; os.environ['TZ'] = 'UTC'; time.tzset(); "
        f"sys.path.insert(0, {str(TESTS)!r}); "
        "from tui_fixtures import frozen_app, waiting_for_approval; "
        f"frozen_app(waiting_for_approval(), tmp=Path({str(tmp_path)!r})).run()"
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="24")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        output = _read(master, 3.0)
        os.write(master, b"\x1b[A")
        output += _read(master, 0.3)
        os.write(master, b"\x1b[A")
        output += _read(master, 0.3)
        os.write(master, b"\r")  # the notes step's detail: its summary is the corpus
        output += _read(master, 1.0)
        os.write(master, b"\x1b")
        output += _read(master, 0.5)
        os.write(master, b"n")  # the notes preview: the corpus again, from the notes file
        output += _read(master, 1.5)
        os.write(master, b"\x1b")
        output += _read(master, 0.3)
        os.write(master, b"q")
        output += _read(master, 0.5)
        os.write(master, b"y")
        output += _read(master, 1.5)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    assert b"[@click=app.quit]" in output, output[-2000:]
    assert b"[TODO]" in output and b"[/b]" in output
    for escape in CORPUS_ESCAPES:
        assert escape not in output, f"{escape!r} reached the terminal"
    assert "\x9b" not in output.decode("utf-8", "replace")  # C1 CSI as a character, not a UTF-8 byte
