"""Release day: cut branch and tag, check the image, announce, deploy."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Mapping

from ..durations import format_duration
from ..events import EventKind
from ..model import Intent, Release, ReleaseType
from ..providers.base import DeployProgress, DeployResult, ImageRegistry, ProviderError, Running
from ..sanitize import plain
from .announcing import post_once
from .effects import Effect, Unknown, perform
from .preflight import notes_of
from .release_email import email_release
from .steps import git_of, git_plan, handler

if TYPE_CHECKING:
    from .context import StepContext


@handler("cut_release")
async def cut_release(ctx: StepContext) -> None:
    git = git_of(ctx)
    plan = git_plan(ctx)
    remote = ctx.config.project.remote

    async def act(key: str) -> Effect:
        notes = await notes_of(ctx)
        result = await ctx.blocking(git.cut, plan, notes.to_markdown())
        return Effect(
            True,
            f"{plan.tag} on {plan.branch} pushed to {remote}",
            {"branch": plan.branch, "tag": plan.tag, "commit": result.commit[:12]},
            {"commit": result.commit, "already_done": result.already_done},
        )

    async def reconcile(intent: Intent) -> Effect | None:
        if await ctx.blocking(git.cut_status, plan) != "done":
            return None
        return Effect(True, f"{plan.branch} and {plan.tag} already on {remote} (reconciled)", {"branch": plan.branch, "tag": plan.tag})

    effect = await ctx.perform("cut", {"branch": plan.branch, "tag": plan.tag, "commit": plan.base_commit}, act, reconcile)
    if effect is not None:
        await ctx.finish(effect)


@handler("check_image")
async def check_image(ctx: StepContext) -> None:
    """The image for the tag exists; a registry with a `wait` polls while CI is still building it.

    The wait counts from the step's start (journaled), so a restart does not lengthen it.
    """
    registry = ctx.services.registry
    if registry is None:
        await ctx.skipped("not checked: no image registry configured ([image] provider = \"none\")")
        return
    tag = ctx.state.tag
    wait = float(getattr(registry, "wait", 0.0) or 0.0)
    poll = max(float(getattr(registry, "poll", 15.0) or 15.0), 0.01)
    deadline = (ctx.step.started_at or ctx.clock.now()) + wait
    asked = 0
    while True:
        try:
            exists, detail, evidence = await _image_details(registry, tag)
        except ProviderError as error:
            await ctx.failed(f"image not checked: {error}")
            return
        asked += 1
        if exists:
            await ctx.passed(detail, evidence)
            return
        if wait <= 0:
            await ctx.waiting(f"{detail}; waiting for CI to push it (retry when it is there)")
            return
        left = deadline - ctx.clock.now()
        if left <= 0:
            image = f"{getattr(registry, 'repository', 'the image')}:{tag}"
            await ctx.failed(
                f"no image {image} after {format_duration(wait).replace('m00s', 'm')}; CI may have failed: check the CI build of {tag}, "
                "and once the image is pushed retry this step (r in the cockpit)",
                {"asked": f"{asked} times"},
            )
            return
        await ctx.progress(f"{detail}; waiting for CI to push it ({format_duration(left)} left, asked {asked} times)")
        await ctx.clock.sleep(min(poll, left))


async def _image_details(registry: ImageRegistry, tag: str) -> tuple[bool, str, Mapping[str, str]]:
    details = getattr(registry, "image_details", None)  # optional: registries that have evidence
    if details is not None:
        found: tuple[bool, str, Mapping[str, str]] = await details(tag)
        return found
    exists, detail = await registry.image_exists(tag)
    return exists, detail, {}


async def announce(ctx: StepContext, channel: str, text: str, moment: str = "", headline: str = "") -> None:
    """Post one announcement at most once; a failed post never blocks a release or a rollback.

    `moment` and `headline` let a notifier that keeps one thread per release edit its message
    (headline) and reply in the thread (text); others post `text` alone.
    """
    result = await post_once(ctx.runner, step_id=ctx.step_id, key=ctx.key, channel=channel, text=text, moment=moment, headline=headline)
    effect = await ctx.resolved(result)
    if effect is None:
        return
    if effect.ok:
        await ctx.passed(effect.summary)
    else:
        await ctx.skipped(f"not posted to #{channel}: {effect.summary}")


def env_word(environment: str) -> str:
    return "prod" if environment == "production" else environment


@handler("announce_deploy")
async def announce_deploy(ctx: StepContext) -> None:
    tag, where = ctx.state.tag, env_word(ctx.state.environment)
    await announce(ctx, ctx.setting("announce_channel"), f"Deploying {tag} to {where}", "deploying", f"{tag} to {where}: deploying")


@handler("announce_success")
async def announce_success(ctx: StepContext) -> None:
    tag, where = ctx.state.tag, env_word(ctx.state.environment)
    if ctx.state.release_type is ReleaseType.MAJOR:
        await email_release(ctx)  # before the step passes: a restart after the pass would never send it
    await announce(ctx, ctx.setting("success_channel"), f"{tag} deployed successfully", "deployed", f"{tag} on {where}: deployed successfully")


def _effect_of(result: DeployResult) -> Effect:
    summary = result.summary if result.production_changed else f"{result.summary}; production still runs the previous version"
    return Effect(result.production_changed, summary, dict(result.evidence), {"production_changed": result.production_changed, "tag": result.tag})


async def deploy_version(ctx: StepContext, tag: str) -> None:
    """Put `tag` on production (a deploy and a rollback are the same operation)."""
    deployer = ctx.services.deployer
    if deployer is None:
        await ctx.failed('no deployer configured ([deploy] provider = "none"): nothing was deployed')
        return

    async def on_progress(report: DeployProgress) -> None:
        await ctx.progress(
            report.message,
            progress=report.progress,
            stage=report.stage,
            healthy=report.healthy,
            desired=report.desired,
            stages=[list(s) for s in report.stages],
            log=list(report.log),
        )

    async def changed(effect: Effect) -> Effect:
        # Journaled before the outcome, and once, however often the deploy is reconciled.
        if effect.data.get("production_changed") and ctx.state.production_version != tag:
            await ctx.emit(EventKind.PRODUCTION_CHANGED, {"version": tag, "step": ctx.step_id})
        return effect

    async def reconcile(intent: Intent) -> Effect | None:
        result = await deployer.reconcile(tag, intent.key, on_progress)
        if result is None:
            return None
        if not isinstance(result, DeployResult):
            raise Unknown(f"the deployer could not say what happened to {intent.key}")
        return await changed(_effect_of(result))

    if ctx.state.rollback is None:
        await measure_baseline(ctx)
        await observe_production(ctx)
    restore = restore_point(ctx.state, tag)

    async def act(key: str) -> Effect:
        return await changed(_effect_of(await deployer.deploy(tag, key, on_progress, restore=restore or None)))

    params: dict[str, object] = {"tag": tag}
    if restore:
        params["restore"] = dict(restore)
    effect = await ctx.perform("deploy", params, act, reconcile)
    if effect is None:
        return
    await changed(effect)  # an outcome replayed after a crash between it and the production change
    if effect.ok:
        await mark_deploy(ctx, tag)
    await ctx.finish(effect)


async def observe_production(ctx: StepContext) -> None:
    """Journal what the deploy system says production runs, before the deploy writes anything.

    Its `restore` (an ECS task definition, say) is what a rollback of this release returns
    production to. A deploy system that disagrees with shipdeck's records is said out loud.
    """
    running = getattr(ctx.services.deployer, "running", None)
    if running is None or ctx.state.observed_before is not None:
        return
    try:
        seen: Running = await asyncio.wait_for(running(), timeout=60.0)
    except (ProviderError, asyncio.TimeoutError) as error:
        await ctx.emit(EventKind.NOTE, {"message": f"the deploy system could not say what production runs: {error or 'timed out'}"})
        return
    await ctx.emit(
        EventKind.PRODUCTION_OBSERVED,
        {"step": ctx.step_id, "version": seen.version, "detail": plain(seen.detail), "restore": dict(seen.restore)},
    )
    expected = ctx.state.previous_tag
    if seen.version is not None and expected and seen.version != expected:
        await ctx.emit(
            EventKind.NOTE,
            {"message": f"the deploy system says production runs {plain(seen.version)}, but shipdeck's records say {expected}: "
             "someone deployed outside shipdeck, or the records are behind"},
        )


def restore_point(state: Release, tag: str) -> Mapping[str, str]:
    """What returns production exactly to `tag`, when this is a rollback to the state observed before.

    Only for the version that was running then (a rollback `--to` an older release has none).
    """
    rollback = state.rollback
    if rollback is None:
        return {}
    if rollback.restore and rollback.target == tag:
        return rollback.restore  # a rollback journal: looked up from the rolled-back release
    seen = state.observed_before
    if seen is None or not seen.restore:
        return {}
    if seen.version == tag or (seen.version is None and tag == state.previous_tag):
        return seen.restore
    return {}


async def measure_baseline(ctx: StepContext) -> None:
    """Each series' level before the deploy, journaled once: "now vs before" in every verdict."""
    metrics = ctx.services.metrics
    baseline = getattr(metrics, "baseline", None)
    if baseline is None or any(h.measured_baseline is not None for h in ctx.state.series):
        return
    end = ctx.clock.now()
    start = end - float(ctx.setting("baseline_window"))
    names = [h.spec.name for h in ctx.state.series]
    try:
        values = await asyncio.wait_for(baseline(names, start, end), timeout=30.0)
    except (ProviderError, asyncio.TimeoutError) as error:
        await ctx.emit(EventKind.NOTE, {"message": f"no baseline before the deploy: {error or 'timed out'}; verdicts compare with the configured baselines only"})
        return
    await ctx.emit(EventKind.BASELINE_MEASURED, {"values": dict(values), "start": start, "end": end})


async def mark_deploy(ctx: StepContext, tag: str) -> None:
    """A deploy (or rollback) marker where the metrics live; reported, never blocking."""
    metrics = ctx.services.metrics
    mark = getattr(metrics, "mark", None)
    if mark is None:
        return
    rollback = ctx.state.rollback
    kind = "rollback" if rollback is not None else "deploy"
    previous = rollback.from_version if rollback is not None else (ctx.state.previous_tag or "")
    started_at = ctx.step.started_at or ctx.clock.now()

    async def act(key: str) -> Effect:
        warnings = await mark(kind, tag, previous, started_at, ctx.clock.now())
        return Effect(not warnings, "; ".join(warnings) or f"{kind} marker for {tag} posted")

    async def reconcile(intent: Intent) -> Effect | None:
        return None  # the marker's id is stable: posting it again is counted once

    result = await perform(
        ctx.runner, step_id=f"{ctx.step_id}.marker", key=f"{ctx.key}:marker", action="mark", params={"kind": kind, "tag": tag}, act=act, reconcile=reconcile
    )
    if isinstance(result, Effect) and not result.ok and not result.replayed:
        await ctx.emit(EventKind.NOTE, {"message": f"{kind} marker: {result.summary}"})


@handler("deploy")
async def deploy(ctx: StepContext) -> None:
    await deploy_version(ctx, ctx.state.tag)
