"""The rollback track: announce, redeploy the previous version, smoke test, announce."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .preflight import smoke
from .release_day import announce, deploy_version, env_word
from .steps import handler

if TYPE_CHECKING:
    from .context import StepContext


@handler("announce_rollback")
async def announce_rollback(ctx: StepContext) -> None:
    rollback = ctx.state.rollback
    assert rollback is not None
    await announce(
        ctx,
        ctx.setting("announce_channel"),
        f"Rolling back {rollback.from_version} to {rollback.target}: {rollback.reason}",
        "rolling_back",
        f"{rollback.from_version} on {env_word(ctx.state.environment)}: rolling back to {rollback.target}",
    )


@handler("rollback_deploy")
async def rollback_deploy(ctx: StepContext) -> None:
    assert ctx.state.rollback is not None
    await deploy_version(ctx, ctx.state.rollback.target)


@handler("rollback_smoke")
async def rollback_smoke(ctx: StepContext) -> None:
    assert ctx.state.rollback is not None
    await smoke(ctx, ctx.state.environment, ctx.state.rollback.target)  # {version}: what production runs again


@handler("announce_rolled_back")
async def announce_rolled_back(ctx: StepContext) -> None:
    rollback = ctx.state.rollback
    assert rollback is not None
    await announce(
        ctx,
        ctx.setting("announce_channel"),
        f"Rolled back to {rollback.target} due to {rollback.reason}",
        "rolled_back",
        f"{rollback.from_version} rolled back to {rollback.target} on {env_word(ctx.state.environment)}",
    )
