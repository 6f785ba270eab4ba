"""`shipdeck approve` and `rollback` from another terminal while a captain's runner is live.

The runner holds the lock, so the other terminal's command goes through the inbox; the
runner checks it (roles, state) and answers, and the journal records who decided.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from cli_support import CLI, environment, fast_world

from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase, StepStatus
from shipdeck.core.session import Options, open_session


async def _until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition never met"
        await asyncio.sleep(0.05)


async def _other_terminal(world, *args: str, user: str = "captain") -> subprocess.CompletedProcess[str]:
    argv = [*CLI, "--config", str(world.config), "--repo", str(world.repo), *args]
    return await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=60, env=environment(SHIPDECK_USER=user)
    )


def test_approve_and_rollback_reach_a_live_runner_through_the_inbox(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "healthy")
    session = open_session(Options(config_path=world.config, repo_path=world.repo, interactive=True, force=True))
    runner = session.runner

    async def scenario() -> None:
        task = asyncio.create_task(runner.run())
        try:
            await _until(lambda: runner.state.step("approval").status is StepStatus.WAITING)
            refused = await _other_terminal(world, "approve", user="mallory")
            assert refused.returncode == 1 and "does not hold a role" in refused.stderr
            approved = await _other_terminal(world, "approve", "--reason", "ship it")
            assert approved.returncode == 0, approved.stderr
            assert "accepted by captain@" in approved.stderr
            assert runner.state.step("approval").approvals[0].by == "captain"

            await _until(lambda: runner.state.production_runs_new_version)
            rollback = await _other_terminal(world, "rollback", "--reason", "support queue is on fire")
            assert rollback.returncode == 0, rollback.stderr
            await _until(lambda: phase_of(runner.state) is Phase.ROLLED_BACK)
            assert runner.state.rollback.requested_by == "captain"
            assert runner.state.production_version == "v1.3.0"
        finally:
            runner.stop()
            await task

    try:
        asyncio.run(scenario())
    finally:
        session.close()
