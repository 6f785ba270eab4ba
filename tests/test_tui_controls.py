"""Behaviour of the cockpit's controls on frozen releases: commands sent, guards held."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Static
from tui_fixtures import FrozenLink, deploying, migrations_flagged, frozen_app, utc, waiting_for_approval, watching  # noqa: F401 - utc is an autouse fixture

from shipdeck.screens.quit_confirm import QuitConfirmScreen
from shipdeck.screens.reason_prompt import ReasonPrompt
from shipdeck.screens.rollback_confirm import RollbackConfirmScreen


pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin


async def test_approve_sends_a_command_as_the_captain():
    script = waiting_for_approval()
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.1)
    assert [(c.verb, c.by, c.step) for c in link.commands] == [("approve", "alice", "approval")]


async def test_refusal_is_shown_literally():
    script = waiting_for_approval()
    link = FrozenLink(script.events, answer=lambda c: "[@click=app.quit] nope [/b]")
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause(0.2)
        assert app.is_running
        assert any("[@click=app.quit] nope [/b]" in str(n.message) for n in app._notifications)


async def test_waive_needs_a_reason():
    script = migrations_flagged()
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        assert isinstance(app.screen, ReasonPrompt)
        await pilot.press("enter")
        assert isinstance(app.screen, ReasonPrompt) and not link.commands
        await pilot.press(*"checked by hand", "enter")
        await pilot.pause(0.1)
    assert [(c.verb, c.step, c.reason) for c in link.commands] == [("waive", "preflight.migrations", "checked by hand")]


async def test_enter_and_repeated_keys_never_confirm_a_rollback():
    script = watching(breach=True)
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RollbackConfirmScreen)
        await pilot.press(*["enter"] * 5, *["v"] * 8, "enter", "tab", "enter", "tab", "enter")
        await pilot.pause(0.1)
        assert not link.commands


async def test_only_rollback_roles_can_confirm():
    script = watching(breach=True)
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link, identity="mallory")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RollbackConfirmScreen)
        assert modal.query_one("#rollback-go", Button).disabled
        assert modal.query_one("#rollback-typed", Input).disabled
        assert "mallory may not roll back" in str(modal.query_one("#rollback-answer", Static).render())
        await pilot.press(*"v1.3.0", "enter")
        assert not link.commands


async def test_right_version_sends_the_rollback_with_the_breach_reason():
    script = watching(breach=True)
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"v1.3.0", "enter")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, RollbackConfirmScreen)
    (command,) = link.commands
    assert (command.verb, command.typed_target) == ("rollback", "v1.3.0")
    assert command.reason.startswith("sustained breach: error_rate")


async def test_rollback_key_is_refused_before_the_deploy():
    script = deploying()
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert not isinstance(app.screen, RollbackConfirmScreen)
        assert app.screen.query_one("#rollback-button", Button).disabled


async def test_quitting_mid_release_asks_and_says_what_happens():
    script = deploying()
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, QuitConfirmScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "shipdeck resume" in text and "journal" in text
        await pilot.press("enter")  # focus starts on Stay: Enter does not quit
        assert app.is_running and not link.stopped
        await pilot.press("q", "y")
        await pilot.pause()
    assert link.stopped


async def test_every_action_is_in_the_command_palette():
    script = waiting_for_approval()
    app = frozen_app(script)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in app.cockpit.BINDINGS:
            assert binding.description in titles


async def test_too_small_terminal_says_how_large_it_must_be():
    app = frozen_app(waiting_for_approval())
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert "at least 80×24" in str(app.screen.query_one("#too-small", Static).render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.screen is app.cockpit
