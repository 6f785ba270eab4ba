"""Resizing the terminal mid-release: the cockpit steps aside below 80×24 and comes back; the
release never notices."""

from __future__ import annotations

import pytest
from test_tui_flow import cockpit, demo_session, wait_for, waiting_approval
from textual.widgets import Static

from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase
from shipdeck.screens.cockpit import CockpitScreen
from shipdeck.screens.quit_confirm import QuitConfirmScreen
from shipdeck.screens.too_small import TooSmallScreen

pytestmark = pytest.mark.anyio

SMALL_SIZES = ((79, 24), (80, 23), (40, 10), (79, 23), (20, 5))


def shown(app) -> str:
    return str(app.screen.query_one("#too-small", Static).render())


async def test_shrinking_and_growing_mid_release_keeps_the_release_running(tmp_path):
    session = demo_session(tmp_path, "healthy")
    try:
        app = cockpit(session)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = session.runner
            await wait_for(pilot, lambda: waiting_approval(runner.state), "the approval")
            await pilot.press("a")
            await wait_for(pilot, lambda: runner.state.production_runs_new_version or phase_of(runner.state) is Phase.DEPLOY,
                           "the deploy to start")
            phase_before = phase_of(runner.state)
            for width, height in SMALL_SIZES:
                await pilot.resize_terminal(width, height)
                await pilot.pause(0.05)
                assert isinstance(app.screen, TooSmallScreen)
                assert f"{width}×{height}" in shown(app)
                # A resize within "too small" updates the message in place, one screen deep.
                await pilot.resize_terminal(width - 1, height)
                await pilot.pause(0.05)
                assert f"{width - 1}×{height}" in shown(app)
                assert sum(isinstance(s, TooSmallScreen) for s in app.screen_stack) == 1
                await pilot.resize_terminal(80, 24)
                await pilot.pause(0.05)
                assert isinstance(app.screen, CockpitScreen), f"cockpit not back after {width}×{height}"
            assert app.runner_error == ""

            # A modal open when the terminal shrinks is covered too, and is back after it grows.
            await pilot.press("q")
            await pilot.pause(0.05)
            assert isinstance(app.screen, QuitConfirmScreen)
            await pilot.resize_terminal(60, 20)
            await pilot.pause(0.05)
            assert isinstance(app.screen, TooSmallScreen)
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.05)
            assert isinstance(app.screen, QuitConfirmScreen)
            await pilot.press("n")
            await pilot.pause(0.05)
            assert isinstance(app.screen, CockpitScreen)
            await wait_for(pilot, lambda: phase_of(runner.state) is Phase.DONE, "the release to finish", timeout=90)
            assert phase_of(runner.state) is not phase_before
            assert isinstance(app.screen, CockpitScreen)
            await pilot.press("q")
    finally:
        session.close()
