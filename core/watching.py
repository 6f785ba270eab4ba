"""The watch, folded from samples: series health, observed time, blind periods, the verdict.

Pure: no I/O and no clock. The reducer calls these for every `watch_started` and `sample`
event, and the verdict reads the state only, so a runner resumed after a crash decides
exactly what the one that died would have decided — and the time nobody watched is blind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Mapping, Sequence

from .durations import format_duration
from .model import Health, Release, SeriesHealth, WatchPolicy, WatchState

RECENT_SAMPLES = 16  # per series, kept as the evidence of a breach decision
BLIND_PERIODS_KEPT = 32  # per watch; older ones are summed in `missed`


def usable(value: object) -> float | None:
    """A sample value the watch may judge by, or None (no data) for garbage.

    NaN, infinities, negatives (no error rate, latency or queue depth is below zero), bools and
    non-numbers are not data: counting them could make a broken feed look healthy.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0:
        return None
    return number


def start_watch(state: Release, step: str, duration: float, at: float) -> Release:
    """A watch step begins (or begins again after a retry): reset the per-watch accounting."""
    watch = WatchState(step=step, started_at=at, duration=duration, last_poll_at=at)
    watches = tuple(w for w in state.watches if w.step != step) + (watch,)
    series = tuple(
        replace(
            h,
            health=Health.UNKNOWN if h.health is Health.BLIND else h.health,
            last_poll_at=at,
            blind_since=None,
            was_blind=False,
            peak=None,
            samples=0,
        )
        for h in state.series
    )
    return replace(state, watches=watches, series=series)


def active_watch(state: Release) -> WatchState | None:
    """The watch whose step is still running, if any (samples fold into it)."""
    for watch in reversed(state.watches):
        step = state.step(watch.step)
        if step is not None and not step.status.finished:
            return watch
    return None


def observe(
    health: SeriesHealth, at: float, value: float | None, policy: WatchPolicy, watch_started_at: float | None = None
) -> SeriesHealth:
    """Fold one sample into a series' health.

    A rollback criterion counts only once it has held for `policy.breach_for`. No data for
    longer than `policy.blind_after` is blind, and so is a gap between two polls longer than
    that, whatever its cause: time not observed is never healthy.
    """
    previous_poll = health.last_poll_at if health.last_poll_at is not None else (watch_started_at if watch_started_at is not None else at)
    gap_blind = at - previous_poll > policy.blind_after
    last_data = health.last_sample_at
    if watch_started_at is not None and (last_data is None or last_data < watch_started_at):
        last_data = watch_started_at
    recent = (health.recent + ((at, value),))[-RECENT_SAMPLES:]
    if value is None:
        reference = last_data if last_data is not None else previous_poll
        if gap_blind or at - reference >= policy.blind_after:
            return replace(
                health,
                health=Health.BLIND,
                last_poll_at=at,
                blind_since=health.blind_since if health.blind_since is not None else reference,
                was_blind=True,
                above_since=None,
                recent=recent,
            )
        return replace(health, last_poll_at=at, recent=recent)
    spec = health.spec
    above_since = health.above_since
    breach_at = health.breach_at
    if spec.rollback_above is not None and value > spec.rollback_above:
        above_since = above_since if above_since is not None else at
        if at - above_since >= policy.breach_for:
            status = Health.BREACH
            breach_at = breach_at if health.health is Health.BREACH else at
        else:
            status = Health.WARN
    else:
        above_since = None
        status = Health.WARN if spec.warn_above is not None and value > spec.warn_above else Health.OK
    return replace(
        health,
        health=status,
        last_value=value,
        last_sample_at=at,
        last_poll_at=at,
        above_since=above_since,
        breach_at=breach_at,
        blind_since=None,
        was_blind=health.was_blind or gap_blind,
        peak=value if health.peak is None else max(health.peak, value),
        samples=health.samples + 1,
        recent=recent,
    )


def account(watch: WatchState, at: float, blind_after: float) -> WatchState:
    """Count the time since the previous poll as observed, or as missed when the gap is blind."""
    if at <= watch.last_poll_at:
        return watch  # another series of the same poll
    gap = at - watch.last_poll_at
    if gap <= blind_after:
        return replace(watch, observed=watch.observed + gap, last_poll_at=at)
    periods = (watch.blind_periods + (("*", watch.last_poll_at, at),))[-BLIND_PERIODS_KEPT:]
    return replace(watch, missed=watch.missed + gap, last_poll_at=at, blind_periods=periods)


def note_series_blind_period(watch: WatchState, before: SeriesHealth, after: SeriesHealth, at: float) -> WatchState:
    """A series that was blind and has data again leaves a (series, from, to) period as evidence."""
    if before.health is Health.BLIND and after.health is not Health.BLIND and before.blind_since is not None:
        periods = (watch.blind_periods + ((before.spec.name, before.blind_since, at),))[-BLIND_PERIODS_KEPT:]
        return replace(watch, blind_periods=periods)
    return watch


# ---------------------------------------------------------------------------------------
# Verdicts


def breached_series(state: Release) -> list[SeriesHealth]:
    """Series in a sustained breach that count: a shadow series is shown, never acted on."""
    return [h for h in state.series if h.health is Health.BREACH and not h.spec.shadow]


def acting(series: Sequence[SeriesHealth]) -> list[SeriesHealth]:
    return [h for h in series if not h.spec.shadow]


def describe_breach(health: SeriesHealth) -> str:
    unit = health.spec.unit
    value = "no data" if health.last_value is None else f"{health.last_value:g}{unit}"
    limit = "?" if health.spec.rollback_above is None else f"{health.spec.rollback_above:g}{unit}"
    return f"{health.spec.name} {value} > {limit}"


def pending_breaches(series: Sequence[SeriesHealth]) -> list[SeriesHealth]:
    """Series above their rollback line whose breach is not yet sustained: the watch stays open."""
    return [h for h in acting(series) if h.above_since is not None and h.health is Health.WARN]


@dataclass(frozen=True)
class WatchVerdict:
    finished: bool  # the watch may end now
    healthy: bool  # only meaningful when finished
    text: str
    evidence: Mapping[str, str]


def _clock(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _evidence(state: Release, watch: WatchState) -> dict[str, str]:
    evidence: dict[str, str] = {}
    for health in state.series:
        unit = health.spec.unit
        limit = f" (rollback above {health.spec.rollback_above:g}{unit})" if health.spec.rollback_above is not None else ""
        peak = "no data" if health.peak is None else f"peak {health.peak:g}{unit}"
        before = "" if health.measured_baseline is None else f", {health.measured_baseline:g}{unit} before the deploy"
        shadow = " [shadow: never acted on]" if health.spec.shadow else ""
        evidence[health.spec.name] = f"{peak}{limit}, {health.samples} samples{before}{shadow}"
        if health.spec.query:
            evidence[f"{health.spec.name} query"] = health.spec.query
    evidence["observed"] = f"{format_duration(watch.observed)} of {format_duration(watch.duration)}"
    if watch.missed:
        evidence["missed"] = f"{format_duration(watch.missed)} not observed (blind)"
    for name, start, end in watch.blind_periods[-5:]:
        who = "all series" if name == "*" else name
        evidence[f"blind {_clock(start)}"] = f"{who}: no data until {_clock(end)} ({format_duration(end - start)})"
    for health in state.series:
        if health.health is Health.BLIND and health.blind_since is not None:
            evidence[f"blind {_clock(health.blind_since)}"] = f"{health.spec.name}: no data since then"
    return evidence


def watch_verdict(state: Release, step_id: str) -> WatchVerdict:
    """Whether the watch of `step_id` may end, and whether it passes.

    It ends only after observing its whole duration, and stays open while a series is above
    its rollback line but not yet sustained. It passes only if no series was blind at any
    point, none lacks data, and no breach is open.
    """
    watch = state.watch(step_id)
    if watch is None:
        return WatchVerdict(False, False, "the watch has not started", {})
    evidence = _evidence(state, watch)
    # Missed time is blind, so that watch can no longer pass; it still runs on to observe its
    # whole duration (a breach during the outage is then seen and rolled back), unless it has
    # missed more than its whole length (every poll late: it would never end).
    if watch.remaining > 0 and watch.missed < watch.duration:
        return WatchVerdict(False, False, f"watching: {format_duration(watch.observed)} of {format_duration(watch.duration)} observed", evidence)
    pending = pending_breaches(state.series)
    if pending:
        names = ", ".join(describe_breach(h) for h in pending)
        return WatchVerdict(False, False, f"held open: {names}, not yet sustained", evidence)
    blind = sorted({h.spec.name for h in acting(state.series) if h.was_blind or h.health is Health.BLIND})
    if watch.missed:
        blind = sorted(set(blind) | {"all series"})
    if blind:
        return WatchVerdict(
            True,
            False,
            f"blind: no data for {', '.join(blind)} during the watch; production health is unknown. "
            "Check by hand, then waive with a reason, or roll back",
            evidence,
        )
    missing = [h.spec.name for h in acting(state.series) if h.samples == 0]
    if missing:
        return WatchVerdict(True, False, f"no sample at all for {', '.join(missing)}: production health is unknown", evidence)
    breaches = breached_series(state)
    if breaches:
        text = "; ".join(describe_breach(h) for h in breaches)
        return WatchVerdict(True, False, f"breach unresolved: {text} — roll back or waive", evidence)
    return WatchVerdict(True, True, f"{format_duration(watch.observed)} watched, all series healthy", evidence)
