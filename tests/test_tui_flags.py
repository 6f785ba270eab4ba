"""The cockpit's flags panel and its guarded "flag off" control, on frozen releases at 80×24."""

from __future__ import annotations

import pytest
from flags_fixtures import FLAG, mid_ramp
from test_tui_wire import CHART_SETTLE, Captured
from textual.widgets import Button, Input, Static
from tui_fixtures import CORPUS, CORPUS_LITERALS, FrozenLink, frozen_app, utc, watching  # noqa: F401 - utc is an autouse fixture

from shipdeck.core.events import Event, EventKind
from shipdeck.core.machine import fold
from shipdeck.screens.flag_off_confirm import FlagOffConfirmScreen
from shipdeck.screens.help import HelpScreen
from shipdeck.screens.rollback_confirm import RollbackConfirmScreen
from shipdeck.tui.messages import CommandAnswered, ReleaseEventArrived
from shipdeck.tui.widgets.flags_panel import FlagsPanel

pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin


def _linked(script, answer=lambda command: None, **info):
    """A frozen cockpit whose commands are recorded (and answered with `answer`)."""
    link = FrozenLink(script.events, answer=answer)
    return link, frozen_app(script, link=link, **info)


async def _press_flag_off(pilot):
    """Press f once the cockpit is up; what is on screen then."""
    await pilot.pause()
    await pilot.press("f")
    await pilot.pause()
    return pilot.app.screen


def _panel_text(app) -> str:
    panel = app.cockpit.query_one(FlagsPanel)
    return "\n".join(strip.text for strip in panel._drawn or [])


async def test_the_panel_is_hidden_when_the_release_ramps_no_flag():
    app = frozen_app(watching(samples=6))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.cockpit.query_one(FlagsPanel)
        assert not panel.display and panel.rows == []
        assert panel.region.height == 0


async def test_the_panel_shows_stage_share_time_at_stage_and_the_watch_at_80x24():
    app = frozen_app(mid_ramp())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panel = app.cockpit.query_one(FlagsPanel)
        assert panel.display and panel.region.height == 2
        assert panel.region.right <= 80
        (row,) = panel.rows
        # Moved to 10 % six minutes and some seconds before the frozen now; watched 5 of 15 minutes.
        assert (row.flag, row.stage, row.position, row.serves) == (FLAG, "10%", "2/3", "serves 10% + team")
        assert row.at_stage == "6m06s"
        assert row.health == ("✓ ok 5m/15m", "$success bold")
        lines = _panel_text(app).splitlines()
        assert lines[0].startswith(f"⚑ {FLAG}  10% (2/3) · 6m06s  [f]")  # the whole line fits: no ellipsis
        assert lines[1].startswith("  serves 10% + team  ✓ ok 5m/15m")


async def test_a_breach_at_a_stage_shows_in_the_panel():
    app = frozen_app(mid_ramp(breach=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        (row,) = app.cockpit.query_one(FlagsPanel).rows
        assert row.health[0] == "✗ BREACH: your call"


async def test_a_flag_not_moved_yet_is_said_to_be_unknown_and_its_name_is_literal():
    app = frozen_app(mid_ramp(extra_flag=CORPUS[:29]))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        rows = app.cockpit.query_one(FlagsPanel).rows
        assert [row.flag for row in rows] == [FLAG, CORPUS[:29]]
        assert (rows[1].stage, rows[1].serves, rows[1].health[0]) == ("", "state unknown", "next: team")
        text = _panel_text(app)
        assert "not moved yet" in text
        for literal in CORPUS_LITERALS[:2]:
            assert literal in text
        assert app.is_running


async def test_a_flag_change_repaints_the_panel_and_a_second_only_the_time():
    script = mid_ramp()
    clock = [script.at + 5]
    app = frozen_app(script, now=lambda: clock[0])
    captured = Captured(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(CHART_SETTLE)
        panel = app.cockpit.query_one(FlagsPanel)
        captured.clear()
        clock[0] += 1
        await pilot.pause(1.2)  # the panel's own one-second tick
        # The time at stage moved one second: only its last digits, on one row.
        assert captured.rows_within(panel.region) == {panel.region.y}, captured.updates
        assert 0 < captured.cells_within(panel.region) <= 3, captured.updates
        events = list(script.events)
        state = {"flag": FLAG, "enabled": True, "team": True, "percent": 100, "version": "v-100"}
        event = Event(EventKind.FLAG_CHANGED, {"flag": FLAG, "stage": "100%", "state": state, "step": f"ramp.{FLAG}.100"}, at=clock[0], seq=len(events) + 1)
        events.append(event)
        app.cockpit.post_message(ReleaseEventArrived(event, fold(events)))
        await pilot.pause(0.5)
        (row,) = panel.rows
        assert (row.stage, row.position, row.serves, row.at_stage) == ("100%", "3/3", "serves 100%", "0s")
        assert row.health[0] == "· not watched yet"


async def test_flag_off_needs_the_flag_name_typed_exactly():
    link, app = _linked(mid_ramp())
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _press_flag_off(pilot)
        assert isinstance(modal, FlagOffConfirmScreen)
        await pilot.press("enter", "enter", "tab", "enter")  # focus starts in the name field: Enter alone never confirms
        await pilot.pause(0.1)
        assert not link.commands
        await pilot.press("shift+tab", *"ai-copilo", "enter")
        await pilot.pause(0.1)
        assert not link.commands and isinstance(app.screen, FlagOffConfirmScreen)
        assert "type a flag's name exactly" in str(modal.query_one("#flag-off-answer", Static).render())
        await pilot.press(*FLAG, "enter")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, FlagOffConfirmScreen)
    (command,) = link.commands
    assert (command.verb, command.by, command.typed_target, command.reason) == ("flag_off", "alice", FLAG, "captain's call:")


async def test_a_refused_flag_off_keeps_the_dialog_and_shows_the_refusal_literally():
    link, app = _linked(mid_ramp(), answer=lambda command: "[@click=app.quit] flag system unreachable [/b]")
    async with app.run_test(size=(80, 24)) as pilot:
        await _press_flag_off(pilot)
        await pilot.press(*FLAG, "enter")
        await pilot.pause(0.2)
        modal = app.screen
        assert isinstance(modal, FlagOffConfirmScreen) and app.is_running
        assert "[@click=app.quit] flag system unreachable [/b]" in str(modal.query_one("#flag-off-answer", Static).render())
        # Pressing f again while it is open does not stack a second dialog.
        await pilot.press("escape", "f")
        await pilot.pause()
        assert isinstance(app.screen, FlagOffConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.cockpit


async def test_only_rollback_roles_can_turn_a_flag_off():
    link, app = _linked(mid_ramp(), identity="mallory")
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await _press_flag_off(pilot)
        assert isinstance(modal, FlagOffConfirmScreen)
        assert modal.query_one("#flag-off-go", Button).disabled and modal.query_one("#flag-off-typed", Input).disabled
        assert "mallory may not turn a flag off" in str(modal.query_one("#flag-off-answer", Static).render())
        modal.post_message(CommandAnswered("flag_off", None))  # nothing sent: nothing to answer, the dialog stays
        await pilot.press(*FLAG, "enter")
        await pilot.pause(0.1)
    assert not link.commands


async def test_the_flag_off_key_on_a_release_without_flags_says_so():
    link, app = _linked(watching(samples=6))
    async with app.run_test(size=(80, 24)) as pilot:
        assert await _press_flag_off(pilot) is app.cockpit and not link.commands
        assert any("ramps no feature flag" in str(n.message) for n in app._notifications)


async def test_help_lists_the_flag_off_key():
    app = frozen_app(mid_ramp())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one(Static).render())
        assert "turn a ramped feature flag off; you type its name to confirm" in text
        assert not isinstance(app.screen, RollbackConfirmScreen)


async def test_a_breach_during_a_ramp_stage_raises_flag_off_not_the_release_rollback():
    script = mid_ramp()
    app = frozen_app(script)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        event = Event(EventKind.BREACH_CONFIRMED, {"series": "error_rate"}, at=script.at + 1, seq=len(script.events) + 1)
        app.cockpit.post_message(ReleaseEventArrived(event, fold([*script.events, event])))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, FlagOffConfirmScreen)
        assert not any(isinstance(screen, RollbackConfirmScreen) for screen in app.screen_stack)
