"""The watch steps: poll metrics, journal every sample, confirm breaches, decide from state.

Everything the verdict needs is folded from the journal by the reducer (core/watching.py):
a resumed watch backfills what it missed where the metrics source can, counts what it could
not see as blind, and runs on until it has observed its whole duration.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Sequence

from ..durations import format_duration
from ..events import EventKind
from ..model import Health
from ..providers.base import MetricPoint, ProviderError
from ..watching import WatchVerdict, breached_series, watch_verdict
from .steps import handler

if TYPE_CHECKING:
    from .context import StepContext


async def watch(ctx: StepContext, duration: float) -> None:
    verdict = await observe(ctx, duration)
    if verdict is None:
        return
    if verdict.healthy:
        await ctx.passed(verdict.text, verdict.evidence)
    else:
        await ctx.waiting(verdict.text, verdict.evidence)


async def observe(ctx: StepContext, duration: float, *, stop_on_breach: bool = False) -> WatchVerdict | None:
    """Watch for `duration` and return the verdict; None when the step was skipped or made to wait.

    `stop_on_breach` ends the watch at the first sustained breach (a ramp stage acts on it at
    once instead of watching its whole duration first).
    """
    metrics = ctx.services.metrics
    names = [h.spec.name for h in ctx.state.series]
    if duration <= 0:
        await ctx.skipped("not watched: the watch duration is 0 in the config")
        return None
    if metrics is None or not names:
        await ctx.waiting("no metrics configured: watch production yourself, then confirm")
        return None
    interval = float(ctx.setting("metrics_interval"))
    existing = ctx.state.watch(ctx.step_id)
    if existing is None:
        now = ctx.clock.now()
        await ctx.emit(EventKind.WATCH_STARTED, {"step": ctx.step_id, "duration": duration, "interval": interval, "at": now})
    else:
        await _resume(ctx, metrics, names, existing.last_poll_at, interval)
    while True:
        await _poll(ctx, metrics, names, interval)
        await _confirm_breaches(ctx)
        verdict = watch_verdict(ctx.state, ctx.step_id)
        if verdict.finished or (stop_on_breach and breached_series(ctx.state)):
            break
        state = ctx.state.watch(ctx.step_id)
        remaining = state.remaining if state is not None else interval
        pace = getattr(metrics, "next_poll_in", None)
        # A source running low on its rate-limit budget stretches the poll before it runs out.
        every = max(interval, float(pace(interval))) if pace is not None else interval
        await ctx.clock.sleep(min(every, remaining) if remaining > 0 else every)
    return verdict


async def _resume(ctx: StepContext, metrics: Any, names: Sequence[str], last_poll_at: float, interval: float) -> None:
    """After a restart: backfill the gap from the metrics source where it can, and say so."""
    now = ctx.clock.now()
    gap = now - last_poll_at
    history = getattr(metrics, "history", None)
    filled = 0
    if history is not None and gap > interval:
        try:
            points = await asyncio.wait_for(history(list(names), last_poll_at, now, interval), timeout=max(interval * 4, 5.0))
        except (ProviderError, asyncio.TimeoutError) as error:
            await ctx.progress(f"resumed: could not backfill {format_duration(gap)} ({error or 'timed out'}); that time is blind")
            return
        for point in sorted(points, key=lambda p: p.at):
            if last_poll_at < point.at < now:
                await _sample(ctx, point.series, point.at, point.value, backfilled=True)
                filled += 1
        await ctx.progress(f"resumed after {format_duration(gap)}: backfilled {filled} samples from the metrics source")
        return
    blind_after = ctx.state.watch_policy.blind_after
    if gap > blind_after:
        await ctx.progress(
            f"resumed after {format_duration(gap)} unobserved: that time is blind and the watch runs on "
            "until it has observed its whole duration"
        )


async def _poll(ctx: StepContext, metrics: Any, names: Sequence[str], interval: float) -> None:
    now = ctx.clock.now()
    error = ""
    try:
        points: list[MetricPoint] = await asyncio.wait_for(metrics.latest(list(names), now), timeout=max(interval, 1.0))
    except (ProviderError, asyncio.TimeoutError) as failure:
        error = str(failure) or "metrics query timed out"
        points = [MetricPoint(n, now, None) for n in names]
    seen = {p.series for p in points}
    points += [MetricPoint(n, now, None) for n in names if n not in seen]
    budget = _budget(metrics)
    for index, point in enumerate(points):
        if point.series in names:
            # The poll time, not the data's own timestamp, is what the watch observed.
            await _sample(ctx, point.series, now, point.value, error=error, data_at=point.at, budget=budget if index == 0 else None)


def _budget(metrics: Any) -> list[float] | None:
    """The source's rate-limit budget when it runs low ([] when it is fine again), else None."""
    budget = getattr(metrics, "budget", None)
    if budget is None or not hasattr(budget, "remaining"):
        return None
    low = bool(getattr(budget, "low", False))
    if not low:
        return []
    import time as _time

    reset_in = budget.reset_in(_time.monotonic()) if hasattr(budget, "reset_in") else float(getattr(budget, "reset", 0.0))
    return [int(budget.remaining), int(budget.limit), round(float(reset_in), 1)]


async def _sample(
    ctx: StepContext,
    series: str,
    at: float,
    value: object,
    *,
    error: str = "",
    data_at: float | None = None,
    backfilled: bool = False,
    budget: list[float] | None = None,
) -> None:
    from ..watching import usable

    data: dict[str, Any] = {"series": series, "at": at, "value": usable(value)}
    if value is not None and data["value"] is None:
        data["error"] = f"unusable value {str(value)[:40]!r}"
    if error:
        data["error"] = error
    if data_at is not None and abs(data_at - at) > 1e-6:
        data["data_at"] = data_at
    if backfilled:
        data["backfilled"] = True
    if budget is not None and (budget or ctx.state.metrics_budget is not None):
        data["budget"] = budget  # only when it is low, or to say it no longer is
    await ctx.emit(EventKind.SAMPLE, data)


async def _confirm_breaches(ctx: StepContext) -> None:
    """Journal each sustained breach once, with the samples behind it (survives a restart)."""
    for health in ctx.state.series:
        if health.health is Health.BREACH and health.breach_reported_at != health.breach_at:
            await ctx.emit(
                EventKind.BREACH_CONFIRMED,
                {
                    "series": health.spec.name,
                    "value": health.last_value,
                    "threshold": health.spec.rollback_above,
                    "since": health.above_since,
                    "breach_at": health.breach_at,
                    "query": health.spec.query,
                    "sustained_for": ctx.state.watch_policy.breach_for,
                    "samples": [list(s) for s in health.recent],
                },
            )


@handler("watch")
async def watch_deploy(ctx: StepContext) -> None:
    await watch(ctx, float(ctx.setting("deploy_window")))


@handler("post_watch")
async def watch_post_release(ctx: StepContext) -> None:
    await watch(ctx, float(ctx.setting("post_release")))
