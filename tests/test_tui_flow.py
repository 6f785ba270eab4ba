"""Behaviour through the cockpit: a demo release driven with Pilot over the real runner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import Button, Static
from tui_fixtures import lengthen_watch

from shipdeck.core.exit_codes import ExitCode, exit_code_for
from shipdeck.core.journal import Journal
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase, StepStatus
from shipdeck.core.sandbox.demo import build_demo_world
from shipdeck.core.session import Options, open_session
from shipdeck.screens.rollback_confirm import RollbackConfirmScreen
from shipdeck.tui.app import ShipdeckApp, cockpit_info_for
from shipdeck.tui.widgets.deploy_progress import DeployProgress
from shipdeck.tui.widgets.rollback_control import RollbackControl


pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin


def demo_session(tmp_path: Path, scenario: str):
    world = build_demo_world(tmp_path / "world", scenario, pace="test")
    if scenario == "regression":
        lengthen_watch(world.config)
    return open_session(Options(config_path=world.config, repo_path=world.repo, interactive=True, force=True, command_name="test"))


def cockpit(session) -> ShipdeckApp:
    return ShipdeckApp(session.runner, cockpit_info_for(session), history=Journal(session.runner.journal.path).load(repair=False))


async def wait_for(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; phase {phase_of(pilot.app.link.state).value}")
        await pilot.pause(0.05)


async def approve_until_rollback_is_raised(pilot, runner) -> RollbackConfirmScreen:
    """Approve the waiting release, then wait for the cockpit to raise the rollback by itself."""
    await wait_for(pilot, lambda: waiting_approval(runner.state), "the approval")
    await pilot.press("a")
    # Raised, and composed: on a loaded machine the screen can be current a frame before its widgets.
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, RollbackConfirmScreen) and bool(pilot.app.screen.query("#rollback-criteria")),
        "the rollback confirmation",
        timeout=90,
    )
    return pilot.app.screen


def waiting_approval(state) -> bool:
    step = state.step("approval")
    return step is not None and step.status is StepStatus.WAITING


async def test_approve_watch_deploy_and_release(tmp_path):
    session = demo_session(tmp_path, "healthy")
    try:
        app = cockpit(session)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = session.runner
            await wait_for(pilot, lambda: waiting_approval(runner.state), "the approval")
            control = app.screen.query_one(RollbackControl)
            button = control.query_one("#rollback-button", Button)
            assert button.disabled, "rollback must be disabled before production changes"
            assert "production has not changed yet" in str(control.query_one("#rollback-why", Static).render())
            await pilot.press("b")  # the key is refused with the reason, nothing is sent
            assert runner.state.rollback is None

            await pilot.press("a")
            await wait_for(pilot, lambda: runner.state.step("approval").status is StepStatus.PASSED, "the approval to land")
            deploy = app.screen.query_one(DeployProgress)
            await wait_for(pilot, lambda: bool(deploy._stages), "deploy progress")
            rendered = str(deploy.render())
            assert "provision green" in rendered and "tasks" in rendered

            await wait_for(pilot, lambda: runner.state.production_runs_new_version, "production to change")
            await wait_for(pilot, lambda: not button.disabled, "the rollback control to arm once production runs the new version")
            await wait_for(pilot, lambda: phase_of(runner.state) is Phase.DONE, "the release to finish", timeout=90)
            await pilot.press("q")  # release over: quits without asking
        assert exit_code_for(runner.state) is ExitCode.RELEASED
    finally:
        session.close()


async def test_regression_raises_rollback_and_typed_version_guards_it(tmp_path):
    session = demo_session(tmp_path, "regression")
    try:
        app = cockpit(session)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = session.runner
            modal = await approve_until_rollback_is_raised(pilot, runner)
            assert "Raised automatically" in str(modal.query_one("#rollback-auto", Static).render())
            assert "error_rate" in str(modal.query_one("#rollback-criteria", Static).render())
            assert "migrations" in str(modal.query_one("#rollback-migrations", Static).render())

            await pilot.press("enter", "enter", "enter")  # Enter alone never confirms
            await pilot.pause(0.2)
            assert runner.state.rollback is None
            assert "type v1.3.0 exactly" in str(modal.query_one("#rollback-answer", Static).render())

            await pilot.press(*"v1.4.0", "enter")  # the wrong version is refused
            await pilot.pause(0.2)
            assert runner.state.rollback is None and app.screen is modal

            await pilot.press(*"v1.3.0", "enter")
            await wait_for(pilot, lambda: runner.state.rollback is not None, "the rollback to be accepted")
            assert not isinstance(app.screen, RollbackConfirmScreen)
            await wait_for(pilot, lambda: phase_of(runner.state) is Phase.ROLLED_BACK, "the rollback to finish", timeout=90)
            assert runner.state.production_version == "v1.3.0"
            assert runner.state.rollback.requested_by == "captain"
            assert "sustained breach" in runner.state.rollback.reason
        assert exit_code_for(runner.state) is ExitCode.ROLLED_BACK
    finally:
        session.close()


async def test_a_critical_path_broken_in_production_raises_the_rollback_confirmation(tmp_path):
    from textual.widgets import Input

    session = demo_session(tmp_path, "smoke-failure")
    try:
        app = cockpit(session)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = session.runner
            modal = await approve_until_rollback_is_raised(pilot, runner)
            assert "Smoke test production failed after the deploy" in str(modal.query_one("#rollback-auto", Static).render())
            reason = modal.query_one("#rollback-reason", Input).value
            assert reason.startswith("Smoke test production failed: apply to job (end-to-end) failed")
            assert runner.state.rollback is None  # nothing happens until the captain confirms
            await pilot.press(*"v1.3.0", "enter")
            await wait_for(pilot, lambda: phase_of(runner.state) is Phase.ROLLED_BACK, "the rollback to finish", timeout=90)
    finally:
        session.close()
