"""What each step does, through the providers. One handler per plan action.

Handlers journal through the StepContext: progress as it happens, an intent before any
outside side effect and its outcome after, and one final passed / failed / waiting / skipped.
On resume a side-effect step finds its open intent and reconciles instead of repeating.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Awaitable, Callable
from zoneinfo import ZoneInfo

from .durations import format_duration
from .events import EventKind
from .machine import watch_verdict
from .model import Health, ReleaseType, StepKind
from .providers.base import DeployProgress, MetricPoint, ProviderError
from .window import describe_window, window_status

if TYPE_CHECKING:
    from .runner import StepContext

Handler = Callable[["StepContext"], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
RECHECKABLE = {"check_window", "check_ci", "check_image"}
SAMPLE_EVIDENCE = 32  # samples kept per series as evidence for a breach decision


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
    function = HANDLERS.get(spec.action)
    if function is None:
        await ctx.failed(f"no handler for action {spec.action!r}")
        return
    await ctx.started()
    if spec.side_effect and ctx.already_done():
        await ctx.passed(f"already done before a restart (outcome journaled for {ctx.key})")
        return
    await function(ctx)


def git_plan(ctx: StepContext):
    from .providers.git import GitPlan

    data = ctx.state.settings["git"]
    return GitPlan(**data)


# -- preflight ----------------------------------------------------------------------------


@handler("check_window")
async def check_window(ctx: StepContext) -> None:
    if ctx.state.release_type is ReleaseType.HOTFIX:
        await ctx.passed("hotfix: no release window applies")
        return
    window = ctx.config.release.window
    inside, detail = window_status(window, _now_in(ctx, window.timezone))
    if inside:
        await ctx.passed(detail, {"window": describe_window(window)})
    elif ctx.runner.force:
        await ctx.passed(f"{detail}; released anyway with --force by {ctx.runner.policy.identity}", {"window": describe_window(window)})
    else:
        await ctx.waiting(f"{detail}; wait for the window or run with --force", {"window": describe_window(window)})


def _now_in(ctx: StepContext, timezone: str) -> datetime:
    return datetime.fromtimestamp(ctx.clock.now(), ZoneInfo(timezone))


@handler("check_git")
async def check_git(ctx: StepContext) -> None:
    git = ctx.services.git
    data = ctx.state.settings.get("git", {})
    if git is None:
        await ctx.failed("no git repository: run shipdeck inside the product's repository or pass --repo")
        return
    evidence = {
        "previous release": data.get("previous_tag") or "none",
        "next version": ctx.state.tag,
        "cut from": f"{data.get('base_ref')} @ {str(data.get('base_commit', ''))[:10]}",
        "release branch": data.get("branch", ""),
    }
    await ctx.passed(f"{ctx.state.tag} from {data.get('base_ref')} (previous {data.get('previous_tag') or 'none'})", evidence)


@handler("check_ci")
async def check_ci(ctx: StepContext) -> None:
    ci = ctx.services.ci
    commit = ctx.state.settings.get("git", {}).get("base_commit", "")
    if ci is None:
        await ctx.waiting(f"no CI provider configured: confirm CI is green on {commit[:10]} yourself (confirm)")
        return
    green, detail = await ci.status(commit)
    if green:
        await ctx.passed(detail)
    elif green is None:
        await ctx.waiting(f"CI status unknown: {detail}")
    else:
        await ctx.failed(detail)


async def _smoke(ctx: StepContext, environment: str) -> None:
    smoke = ctx.services.smoke
    url = str(ctx.config.environments.get(environment, {}).get("url", ""))
    if smoke is None:
        await ctx.waiting(f"no smoke provider configured: smoke test {environment} yourself and confirm")
        return
    results = await smoke.run(environment, url)
    evidence = {r.name: ("ok" if r.passed else f"FAILED: {r.detail}") for r in results}
    failed = [r for r in results if not r.passed]
    if failed:
        await ctx.failed(f"{failed[0].name} failed on {environment}: {failed[0].detail}", evidence)
    else:
        await ctx.passed(f"{len(results)}/{len(results)} critical paths pass on {environment}", evidence)


@handler("smoke_staging")
async def smoke_staging(ctx: StepContext) -> None:
    await _smoke(ctx, "staging")


@handler("smoke_production")
async def smoke_production(ctx: StepContext) -> None:
    await _smoke(ctx, ctx.state.environment)


@handler("rollback_smoke")
async def rollback_smoke(ctx: StepContext) -> None:
    await _smoke(ctx, ctx.state.environment)


@handler("draft_notes")
async def draft_notes(ctx: StepContext) -> None:
    notes = await ctx.blocking(render_notes, ctx)
    if ctx.runner.notes_path is not None:
        ctx.runner.notes_path.parent.mkdir(parents=True, exist_ok=True)
        ctx.runner.notes_path.write_text(notes.to_markdown(), encoding="utf-8")
    from .notes import SECTIONS

    counts = {heading: len(notes.section(name)) for name, (heading, _) in SECTIONS.items()}
    summary = ", ".join(f"{n} {heading.lower()}" for heading, n in counts.items() if n) or "no changes"
    await ctx.passed(f"{len(notes.commits)} commits: {summary}", {k: str(v) for k, v in counts.items()})


def render_notes(ctx: StepContext):
    from .notes import notes_for_range

    data = ctx.state.settings["git"]
    return notes_for_range(
        ctx.services.repo_path,
        data.get("previous_tag"),
        data["base_commit"],
        version=data["version"],
        tag=data["tag"],
        previous_tag=data.get("previous_tag"),
        date=datetime.fromtimestamp(ctx.state.started_at or ctx.clock.now()).date(),
        compare_url=ctx.config.project.compare_url,
        rules=ctx.config.notes.get("rules", ()),
    )


@handler("check_migrations")
async def check_migrations(ctx: StepContext) -> None:
    from .migrations import check_migrations as check

    data = ctx.state.settings["git"]
    report = await ctx.blocking(check, ctx.services.repo_path, data.get("previous_tag"), data["base_commit"], ctx.config.migrations_dirs)
    evidence = {f"{f.file}:{f.line}": f"{f.operation}: {f.detail} — {f.alternative}" for f in report.findings}
    evidence["squawk"] = report.squawk
    if report.findings:
        await ctx.waiting(
            f"{len(report.findings)} migration finding(s) are not zero-downtime; an approver must waive with a reason",
            evidence,
        )
    else:
        await ctx.passed(f"{len(report.files)} migration file(s), all additive", evidence)


# -- release day -----------------------------------------------------------------------


@handler("cut_release")
async def cut_release(ctx: StepContext) -> None:
    git = ctx.services.git
    plan = git_plan(ctx)
    intent = ctx.open_intent()
    if intent is not None:
        status = await ctx.blocking(git.cut_status, plan)
        if status == "done":
            await ctx.outcome(intent.key, "done", {"reconciled": True})
            await ctx.passed(f"{plan.branch} and {plan.tag} already on {ctx.config.project.remote} (reconciled)")
            return
        await ctx.outcome(intent.key, "not_done", {"reconciled": True})
    notes = await ctx.blocking(render_notes, ctx)
    key = await ctx.intent("cut", {"branch": plan.branch, "tag": plan.tag, "commit": plan.base_commit})
    result = await ctx.blocking(git.cut, plan, notes.to_markdown())
    await ctx.outcome(key, "done", {"commit": result.commit, "already_done": result.already_done})
    await ctx.passed(
        f"{plan.tag} on {plan.branch} pushed to {ctx.config.project.remote}",
        {"branch": plan.branch, "tag": plan.tag, "commit": result.commit[:12]},
    )


@handler("check_image")
async def check_image(ctx: StepContext) -> None:
    registry = ctx.services.registry
    if registry is None:
        await ctx.skipped("no image registry configured ([image] provider = \"none\")")
        return
    exists, detail = await registry.image_exists(ctx.state.tag)
    if exists:
        await ctx.passed(detail)
    else:
        await ctx.waiting(f"{detail}; waiting for CI to push it (retry when it is there)")


async def _announce(ctx: StepContext, channel: str, text: str) -> None:
    notifier = ctx.services.notifier
    intent = ctx.open_intent()
    if intent is not None:
        if await notifier.was_posted(intent.key):
            await ctx.outcome(intent.key, "done", {"reconciled": True})
            await ctx.passed(f"already posted to #{channel}: {text}")
            return
        await ctx.outcome(intent.key, "not_done", {"reconciled": True})
    key = await ctx.intent("notify", {"channel": channel})
    try:
        where = await notifier.post(channel, text, key)
    except ProviderError as error:
        # An announcement never blocks a release or a rollback; the gap is recorded.
        await ctx.outcome(key, "failed", {"error": str(error)})
        await ctx.skipped(f"not posted to #{channel}: {error}")
        return
    await ctx.outcome(key, "done", {"where": where})
    await ctx.passed(f"posted to {where}: {text}")


@handler("announce_deploy")
async def announce_deploy(ctx: StepContext) -> None:
    await _announce(ctx, ctx.config.release.announce_channel, f"Deploying {ctx.state.tag} to {_env_word(ctx)}")


@handler("announce_success")
async def announce_success(ctx: StepContext) -> None:
    await _announce(ctx, ctx.config.release.success_channel, f"{ctx.state.tag} deployed successfully")


@handler("announce_rollback")
async def announce_rollback(ctx: StepContext) -> None:
    rollback = ctx.state.rollback
    assert rollback is not None
    await _announce(
        ctx, ctx.config.release.announce_channel, f"Rolling back {rollback.from_version} to {rollback.target}: {rollback.reason}"
    )


@handler("announce_rolled_back")
async def announce_rolled_back(ctx: StepContext) -> None:
    rollback = ctx.state.rollback
    assert rollback is not None
    await _announce(ctx, ctx.config.release.announce_channel, f"Rolled back to {rollback.target} due to {rollback.reason}")


def _env_word(ctx: StepContext) -> str:
    return "prod" if ctx.state.environment == "production" else ctx.state.environment


async def _deploy(ctx: StepContext, tag: str) -> None:
    deployer = ctx.services.deployer

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

    result = None
    intent = ctx.open_intent()
    if intent is not None:
        result = await deployer.reconcile(tag, intent.key, on_progress)
        if result is None:
            await ctx.outcome(intent.key, "not_done", {"reconciled": True})
        key = intent.key
    if result is None:
        key = await ctx.intent("deploy", {"tag": tag})
        try:
            result = await deployer.deploy(tag, key, on_progress)
        except ProviderError as error:
            await ctx.outcome(key, "failed", {"error": str(error)})
            await ctx.failed(str(error))
            return
    if result.production_changed and ctx.state.production_version != tag:  # once, even when reconciled
        await ctx.emit(EventKind.PRODUCTION_CHANGED, {"version": tag, "step": ctx.step_id})
    await ctx.outcome(key, "done", {"production_changed": result.production_changed})
    if result.production_changed:
        await ctx.passed(result.summary, dict(result.evidence))
    else:
        await ctx.failed(f"{result.summary}; production still runs the previous version")


@handler("deploy")
async def deploy(ctx: StepContext) -> None:
    await _deploy(ctx, ctx.state.tag)


@handler("rollback_deploy")
async def rollback_deploy(ctx: StepContext) -> None:
    assert ctx.state.rollback is not None
    await _deploy(ctx, ctx.state.rollback.target)


# -- watching --------------------------------------------------------------------------


async def _watch(ctx: StepContext, duration: float) -> None:
    metrics = ctx.services.metrics
    names = [h.spec.name for h in ctx.state.series]
    if duration <= 0:
        await ctx.skipped("watch disabled (duration 0)")
        return
    if metrics is None or not names:
        await ctx.waiting("no metrics configured: watch production yourself, then confirm")
        return
    interval = ctx.config.metrics_interval
    started = ctx.step.started_at or ctx.clock.now()
    ends_at = started + duration  # a resumed watch keeps its original end
    recent: dict[str, deque[list[float | None]]] = {n: deque(maxlen=SAMPLE_EVIDENCE) for n in names}
    announced: set[tuple[str, float]] = set()
    blind: dict[str, float] = {}
    peak: dict[str, float] = {}
    while ctx.clock.now() < ends_at:
        now = ctx.clock.now()
        error = ""
        try:
            points = await asyncio.wait_for(metrics.latest(names, now), timeout=max(interval, 1.0))
        except (ProviderError, asyncio.TimeoutError) as failure:
            error = str(failure) or "metrics query timed out"
            points = [MetricPoint(n, now, None) for n in names]
        for point in points:
            recent[point.series].append([point.at, point.value])
            data = {"series": point.series, "at": point.at, "value": point.value}
            if error:
                data["error"] = error
            await ctx.emit(EventKind.SAMPLE, data)
            if point.value is not None:
                peak[point.series] = max(peak.get(point.series, point.value), point.value)
        for health in ctx.state.series:
            if health.health is Health.BLIND:
                blind.setdefault(health.spec.name, health.blind_since or now)
            if health.health is Health.BREACH and (health.spec.name, health.breach_at or 0.0) not in announced:
                announced.add((health.spec.name, health.breach_at or 0.0))
                await ctx.emit(
                    EventKind.BREACH_CONFIRMED,
                    {
                        "series": health.spec.name,
                        "value": health.last_value,
                        "threshold": health.spec.rollback_above,
                        "since": health.above_since,
                        "sustained_for": ctx.state.watch_policy.breach_for,
                        "samples": list(recent[health.spec.name]),
                    },
                )
        await ctx.clock.sleep(min(interval, max(0.0, ends_at - ctx.clock.now())))
    healthy, verdict = watch_verdict(ctx.state.series, blind)
    if not healthy:
        when = {name: f"blind since {datetime.fromtimestamp(at).strftime('%H:%M:%S')}" for name, at in blind.items()}
        await ctx.waiting(verdict, when)
        return
    evidence = {}
    for health in ctx.state.series:
        unit = health.spec.unit
        limit = f" (rollback above {health.spec.rollback_above:g}{unit})" if health.spec.rollback_above is not None else ""
        evidence[health.spec.name] = f"peak {peak.get(health.spec.name, 0):g}{unit}{limit}"
    await ctx.passed(f"{format_duration(duration)} watched, {verdict}", evidence)


@handler("watch")
async def watch(ctx: StepContext) -> None:
    await _watch(ctx, ctx.config.watch.deploy_window)


@handler("post_watch")
async def post_watch(ctx: StepContext) -> None:
    await _watch(ctx, ctx.config.watch.post_release)


# -- post-release ------------------------------------------------------------------------


@handler("publish_notes")
async def publish_notes(ctx: StepContext) -> None:
    data = ctx.state.settings.get("git", {})
    await ctx.passed(
        f"CHANGELOG.md on {data.get('branch', 'the release branch')} and the {ctx.state.tag} tag message carry the notes",
        {"published to": "CHANGELOG.md, tag annotation", "changelog site": "not configured"},
    )


@handler("merge_release")
async def merge_release(ctx: StepContext) -> None:
    git = ctx.services.git
    plan = git_plan(ctx)
    intent = ctx.open_intent()
    if intent is not None:
        await ctx.outcome(intent.key, "not_done", {"reconciled": "merge is idempotent; merging again"})
    key = await ctx.intent("merge", {"branch": plan.branch})
    result = await ctx.blocking(git.merge_release, plan)
    await ctx.outcome(key, "done", {"summary": str(result)})
    parts = []
    if result.merged_into:
        parts.append(f"merged into {' and '.join(result.merged_into)}" + (" and pushed" if result.pushed else ""))
    if result.already_merged:
        parts.append(f"already in {' and '.join(result.already_merged)}")
    await ctx.passed(f"{plan.branch} " + "; ".join(parts or ["merged"]))
