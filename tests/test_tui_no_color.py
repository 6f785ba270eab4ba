"""NO_COLOR: a monochrome cockpit where no status depends on colour.

Textual reads NO_COLOR when the App is created; the cockpit then asks for Textual's NoColor
filter, so every cell keeps the terminal's own colours. The checks render the screen the
way the driver does (through a Rich console allowed 24-bit colour) and read its SGR codes.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.segment import Segments
from textual.filter import Monochrome, NoColor
from tui_fixtures import Script, frozen_app, utc, watching  # noqa: F401 - utc is an autouse fixture

from shipdeck.core.events import EventKind
from shipdeck.core.model import Group, StepStatus
from shipdeck.screens.cockpit import CockpitScreen
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.status_marks import STEP_MARKS

pytestmark = pytest.mark.anyio
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def troubled_preflight() -> Script:
    """One step in each status a captain must tell apart before the deploy."""
    script = Script().passed("preflight.window", "inside the window")
    script.add(EventKind.STEP_STARTED, step="preflight.git")
    script.add(EventKind.STEP_FAILED, step="preflight.git", summary="tag v1.4.0 exists")
    script.add(EventKind.STEP_STARTED, step="preflight.ci")
    script.add(EventKind.STEP_FAILED, step="preflight.ci", summary="CI red")
    script.add(EventKind.STEP_WAIVED, step="preflight.ci", by="alice", reason="flaky job")
    script.add(EventKind.STEP_SKIPPED, step="preflight.staging", reason="no staging")
    script.add(EventKind.STEP_STARTED, step="preflight.notes")
    script.add(EventKind.STEP_STARTED, step="preflight.migrations")
    script.add(EventKind.STEP_WAITING, step="preflight.migrations", reason="an approver must waive")
    return script


def blind_breach() -> Script:
    """Watching with error rate and latency breached and queue depth gone quiet."""
    script = watching(breach=True)
    for _ in range(3):
        script.at += 60
        script.add(EventKind.SAMPLE, advance=0, series="error_rate", at=script.at, value=7.5)
        script.add(EventKind.SAMPLE, advance=0, series="p95_latency", at=script.at, value=2600.0)
        script.add(EventKind.SAMPLE, advance=0, series="queue_depth", at=script.at, value=None)
    return script


def screen_ansi(app: ShipdeckApp) -> tuple[str, list[str]]:
    """The whole screen as the driver would write it, and its plain lines."""
    strips = app.screen._compositor.render_strips()
    out = io.StringIO()
    # no_color=False: this console must not hide colours the app would have written.
    console = Console(file=out, width=app.size.width, force_terminal=True, color_system="truecolor", no_color=False, highlight=False, legacy_windows=False)
    for strip in strips:
        console.print(Segments(list(strip)))
    return out.getvalue(), [strip.text for strip in strips]


def assert_no_colour(ansi: str) -> None:
    for codes in SGR.findall(ansi):
        params = codes.split(";")
        colour = [p for p in params if p in ("38", "48") or (p.isdigit() and (30 <= int(p) <= 37 or 40 <= int(p) <= 47 or 90 <= int(p) <= 107))]
        assert not colour, f"colour SGR code \\x1b[{codes}m written with NO_COLOR set"


@pytest.fixture
def no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # before the App exists: Textual reads it in App.__init__


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast"])
async def test_no_color_writes_no_colour_and_every_step_says_its_status(no_color, theme):
    script = troubled_preflight()
    app = frozen_app(script, theme=theme)
    filters = [type(f) for f in app.get_line_filters()]
    assert app.no_color and NoColor in filters and Monochrome not in filters
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        ansi, lines = screen_ansi(app)
        assert_no_colour(ansi)
        state = app.link.state
        shown = {status for status in (s.status for s in state.steps)}
        assert {StepStatus.PASSED, StepStatus.FAILED, StepStatus.WAIVED, StepStatus.SKIPPED, StepStatus.RUNNING, StepStatus.WAITING, StepStatus.PENDING} <= shown
        for step in state.steps:
            if step.spec.group is Group.ROLLBACK:
                continue  # listed once a rollback is asked for
            line = next((line for line in lines if f" {step.spec.title}" in line), f"{step.spec.title} not on screen")
            symbol = STEP_MARKS[step.status][0]
            assert f" {symbol} {step.spec.title}" in line, line
            if step.status not in (StepStatus.PASSED, StepStatus.PENDING):  # ✓ and · need no word
                assert f"{step.spec.title} {step.status.value}" in line, line


async def test_no_color_charts_say_breach_and_blind_in_words(no_color):
    app = frozen_app(blind_breach())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        ansi, lines = screen_ansi(app)  # the rollback confirmation the breach raised
        assert_no_colour(ansi)
        assert any("✗ BREACH error_rate" in line for line in lines), lines
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CockpitScreen)
        ansi, lines = screen_ansi(app)
        assert_no_colour(ansi)
        text = "\n".join(lines)
        assert "✗ BREACH" in text and "? BLIND" in text, text
        assert "✓ Deploy to production" in text and "… Watch metrics" in text, text
        assert "⟲ Roll back [b]   available: " in text, text
