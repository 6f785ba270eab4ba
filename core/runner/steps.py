"""The step registry: one handler per plan action, and how a step is run.

Handlers live in one module per step family (preflight, release day, watch, post-release,
rollback) and journal through the StepContext: progress as it happens, side effects through
`ctx.perform`, and one final passed / failed / waiting / skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from ..model import StepKind

if TYPE_CHECKING:
    from ..providers.git import GitPlan, GitRelease
    from .context import StepContext

Handler = Callable[["StepContext"], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
# Checks a person may have fixed while shipdeck was stopped: asked again on resume.
RECHECKABLE = {"check_window", "check_ci", "check_image"}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function

    return register


async def run_step(ctx: StepContext) -> None:
    spec = ctx.step.spec
    if spec.kind is StepKind.APPROVAL:
        await ctx.waiting(f"waiting for approval by {' and '.join(spec.roles) if spec.all_roles else ' or '.join(spec.roles) or 'a person'}")
        return
    if spec.kind is StepKind.MANUAL:
        await ctx.waiting(f"waiting for a person to confirm: {spec.title}")
        return
    _load_families()
    function = HANDLERS.get(spec.action)
    if function is None:
        await ctx.failed(f"no handler for action {spec.action!r}")
        return
    await ctx.started()
    await function(ctx)


def _load_families() -> None:
    """Import the step families once; each registers its handlers."""
    from . import post_release, preflight, ramp_step, release_day, rollback, watch_step  # noqa: F401


def git_of(ctx: StepContext) -> GitRelease:
    """The release's git mechanics; a release is only ever planned inside a repository."""
    from ..providers.base import ProviderError

    if ctx.services.git is None:
        raise ProviderError("no git repository: run shipdeck inside the product's repository or pass --repo")
    return ctx.services.git


def git_plan(ctx: StepContext) -> GitPlan:
    from ..providers.git import GitPlan

    return GitPlan(**ctx.state.settings["git"])
