"""The pure reducer: `apply(state, event) -> state` and `next_actions(state, policy)`.

No I/O and no clock: time comes from the events themselves, so the same journal always
replays into the same state. The phase is never stored; it follows from the steps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Mapping

from .events import Event, EventKind
from .model import (
    Approval,
    Group,
    Intent,
    Observation,
    OutcomeRecord,
    Release,
    ReleaseType,
    Rollback,
    SeriesHealth,
    SeriesSpec,
    StepKind,
    StepSpec,
    StepState,
    StepStatus,
    WatchPolicy,
)
from .release_queries import current_step, is_terminal, phase_of, rollback_availability
from .watching import account, active_watch, note_series_blind_period, observe, start_watch, usable

__all__ = ["apply", "current_step", "fold", "is_terminal", "phase_of", "rollback_availability"]

# ---------------------------------------------------------------------------------------
# Reducer


def fold(events: Iterable[Event], state: Release | None = None) -> Release:
    state = state or Release()
    for event in events:
        state = apply(state, event)
    return state


def apply(state: Release, event: Event) -> Release:
    """Return the state after `event`. Events that do not fit the state change nothing."""
    if event.kind is EventKind.RELEASE_STARTED:
        if state.started:
            return _touch(state, event)
        return _started(event)
    if not state.started or phase_of(state).terminal:
        return _touch(state, event)
    handler = _HANDLERS.get(event.kind)
    new_state = handler(state, event) if handler else state
    return _touch(new_state, event)


def _touch(state: Release, event: Event) -> Release:
    return replace(state, last_seq=max(state.last_seq, event.seq), updated_at=event.at or state.updated_at)


def _started(event: Event) -> Release:
    data = event.data
    plan = [StepSpec.from_dict(s) for s in data.get("plan", [])]
    series = tuple(SeriesHealth(spec=SeriesSpec.from_dict(s)) for s in data.get("series", []))
    watch = data.get("watch", {})
    # A rollback journal (rolling back a finished release) is rolling back from its start.
    rollback_data = data.get("rollback")
    rollback = None
    if rollback_data:
        rollback = Rollback(
            requested_by=str(rollback_data.get("by", "")),
            reason=str(rollback_data.get("reason", "")),
            target=str(rollback_data.get("target", "")),
            from_version=str(rollback_data.get("from_version", "")),
            automatic=bool(rollback_data.get("automatic", False)),
            breaches=tuple(str(b) for b in rollback_data.get("breaches", ()) or ()),
            at=event.at,
            restore={str(k): str(v) for k, v in (rollback_data.get("restore") or {}).items()},
        )
    return Release(
        id=data["id"],
        version=data["version"],
        tag=data.get("tag", data["version"]),
        release_type=ReleaseType(data.get("type", "regular")),
        environment=data.get("environment", "production"),
        previous_tag=data.get("previous_tag", ""),
        branch=data.get("branch", ""),
        captain=data.get("captain", ""),
        started_at=event.at,
        steps=tuple(StepState(spec=spec) for spec in plan),
        series=series,
        watch_policy=WatchPolicy(
            breach_for=float(watch.get("breach_for", 120.0)),
            blind_after=float(watch.get("blind_after", 120.0)),
        ),
        production_version=data.get("production_version", ""),
        settings=data.get("settings", {}),
        rehearsal=bool(data.get("rehearsal", False)),
        rollback=rollback,
        # A rollback journal starts with the flags the rolled-back version's journals changed: its
        # `rollback.flags` step turns them back (the ledger gathered them).
        flags={str(flag): dict(record) for flag, record in (data.get("flags") or {}).items()},
    )


def _update_step(state: Release, step_id: str, **changes: object) -> Release:
    steps = tuple(replace(s, **changes) if s.id == step_id else s for s in state.steps)  # type: ignore[arg-type]
    return replace(state, steps=steps)


def _evidence(data: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """[label, value] pairs in the order the step gave them (an object, from older journals)."""
    raw = data.get("evidence") or {}
    if isinstance(raw, Mapping):
        return tuple((str(k), str(v)) for k, v in raw.items())
    if isinstance(raw, list):
        return tuple((str(pair[0]), str(pair[1])) for pair in raw if isinstance(pair, (list, tuple)) and len(pair) == 2)
    return ()


def _step_started(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status.finished:
        return state
    return _update_step(
        state,
        step.id,
        status=StepStatus.RUNNING,
        started_at=event.at,
        finished_at=None,
        summary="",
        progress=None,
        attempt=step.attempt + 1,
    )


def _step_progressed(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status is not StepStatus.RUNNING:
        return state
    progress = event.data.get("progress")
    return _update_step(
        state,
        step.id,
        summary=str(event.data.get("message", step.summary)),
        progress=float(progress) if progress is not None else step.progress,
    )


def _step_waiting(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status.finished:
        return state
    return _update_step(
        state,
        step.id,
        status=StepStatus.WAITING,
        summary=str(event.data.get("reason", "")),
        evidence=_evidence(event.data) or step.evidence,
        started_at=step.started_at or event.at,
    )


def _step_finished(status: StepStatus) -> Callable[[Release, Event], Release]:
    def handler(state: Release, event: Event) -> Release:
        step = state.step(event.data["step"])
        if step is None or step.status.finished:
            return state
        return _update_step(
            state,
            step.id,
            status=status,
            finished_at=event.at,
            summary=str(event.data.get("summary", event.data.get("reason", ""))),
            evidence=_evidence(event.data) or step.evidence,
            progress=1.0 if status is StepStatus.PASSED else step.progress,
        )

    return handler


def _step_waived(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status.finished:
        return state
    return _update_step(
        state,
        step.id,
        status=StepStatus.WAIVED,
        finished_at=event.at,
        waived_by=str(event.data.get("by", "")),
        waive_reason=str(event.data.get("reason", "")),
        summary=f"waived by {event.data.get('by', '?')}: {event.data.get('reason', '')}",
    )


def _step_retried(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status not in (StepStatus.FAILED, StepStatus.WAITING):
        return state
    if step.spec.kind is StepKind.APPROVAL:
        return state
    return _update_step(state, step.id, status=StepStatus.PENDING, summary=f"retry requested by {event.data.get('by', '?')}")


def _approval_granted(state: Release, event: Event) -> Release:
    step = state.step(event.data["step"])
    if step is None or step.status.finished or step.spec.kind is not StepKind.APPROVAL:
        return state
    approval = Approval(
        by=str(event.data["by"]),
        role=str(event.data.get("role", "")),
        at=event.at,
        reason=str(event.data.get("reason", "")),
    )
    approvals = step.approvals + (approval,)
    granted_roles = {a.role for a in approvals}
    required = set(step.spec.roles)
    satisfied = (required <= granted_roles) if step.spec.all_roles else bool(required & granted_roles or not required)
    names = ", ".join(f"{a.by} ({a.role})" for a in approvals)
    if satisfied:
        return _update_step(
            state,
            step.id,
            approvals=approvals,
            status=StepStatus.PASSED,
            finished_at=event.at,
            summary=f"approved by {names}",
        )
    missing = ", ".join(sorted(required - granted_roles))
    return _update_step(
        state, step.id, approvals=approvals, status=StepStatus.WAITING, summary=f"approved by {names}; waiting for {missing}"
    )


def _intent(state: Release, event: Event) -> Release:
    data = event.data
    intent = Intent(key=data["key"], step=data["step"], action=data.get("action", ""), params=data.get("params", {}), at=event.at)
    others = tuple(i for i in state.intents if i.key != intent.key)
    return replace(state, intents=others + (intent,))


def _outcome(state: Release, event: Event) -> Release:
    key = event.data["key"]
    status = str(event.data.get("status", ""))
    intents = tuple(i for i in state.intents if i.key != key)
    if status not in ("done", "failed"):
        # not_done: the side effect never happened; the key may act (again) from a clean slate.
        return replace(state, intents=intents, outcomes={k: v for k, v in state.outcomes.items() if k != key})
    record = OutcomeRecord(status=status, result=dict(event.data.get("result") or {}))
    return replace(state, intents=intents, outcomes={**state.outcomes, key: record})


def _production_changed(state: Release, event: Event) -> Release:
    return replace(state, production_version=str(event.data["version"]), production_changed_at=event.at)


def _production_observed(state: Release, event: Event) -> Release:
    if state.observed_before is not None:
        return state  # the first observation is the one before anything was written
    version = event.data.get("version")
    observation = Observation(
        version=str(version) if version else None,
        detail=str(event.data.get("detail", "")),
        restore={str(k): str(v) for k, v in (event.data.get("restore") or {}).items()},
        at=event.at,
    )
    return replace(state, observed_before=observation)
def _flag_changed(state: Release, event: Event) -> Release:
    data = event.data
    flag = str(data["flag"])
    first = state.flags.get(flag, {}).get("from", data.get("from", ""))  # where the release found it
    record = {**dict(data.get("state") or {}), "stage": str(data.get("stage", "")), "from": first, "at": event.at}
    return replace(state, flags={**state.flags, flag: record})


def _watch_started(state: Release, event: Event) -> Release:
    step = state.step(str(event.data.get("step", "")))
    if step is None or step.status.finished:
        return state
    return start_watch(state, step.id, float(event.data.get("duration", 0.0)), float(event.data.get("at", event.at)))


def _sample(state: Release, event: Event) -> Release:
    name = event.data["series"]
    at = float(event.data.get("at", event.at))
    value = usable(event.data.get("value"))
    budget = event.data.get("budget")
    if isinstance(budget, list) and len(budget) == 3:
        state = replace(state, metrics_budget=(int(budget[0]), int(budget[1]), float(budget[2])))
    elif "budget" in event.data:
        state = replace(state, metrics_budget=None)
    watch = active_watch(state)
    started_at = watch.started_at if watch is not None else None
    series = []
    for health in state.series:
        if health.spec.name != name:
            series.append(health)
            continue
        after = observe(health, at, value, state.watch_policy, started_at)
        if watch is not None:
            watch = note_series_blind_period(watch, health, after, at)
        series.append(after)
    if watch is None:
        return replace(state, series=tuple(series))
    watch = account(watch, at, state.watch_policy.blind_after)
    watches = tuple(watch if w.step == watch.step else w for w in state.watches)
    return replace(state, series=tuple(series), watches=watches)


def _baseline_measured(state: Release, event: Event) -> Release:
    values = event.data.get("values") or {}
    series = tuple(
        replace(h, measured_baseline=usable(values.get(h.spec.name))) if h.spec.name in values else h for h in state.series
    )
    return replace(state, series=series)


def _breach_confirmed(state: Release, event: Event) -> Release:
    name = event.data.get("series")
    breach_at = event.data.get("breach_at")
    series = tuple(replace(h, breach_reported_at=breach_at) if h.spec.name == name else h for h in state.series)
    return replace(state, series=series)


def _rollback_requested(state: Release, event: Event) -> Release:
    available, _ = rollback_availability(state)
    if not available:
        return state
    data = event.data
    rollback = Rollback(
        requested_by=str(data.get("by", "")),
        reason=str(data.get("reason", "")),
        target=str(data.get("target", state.previous_tag)),
        from_version=state.tag,
        automatic=bool(data.get("automatic", False)),
        breaches=tuple(data.get("breaches", ())),
        at=event.at,
    )
    return replace(state, rollback=rollback, steps=tuple(_close_for_rollback(step, rollback, event.at) for step in state.steps))


def _close_for_rollback(step: StepState, rollback: Rollback, at: float) -> StepState:
    """How a release step stands once a rollback starts: a failure stays a failure.

    Failed steps keep their status and evidence; a watch interrupted by the breach that caused
    the rollback failed; a step that never ran says so. Rollback steps (re)start from pending.
    """
    if step.spec.group is Group.ROLLBACK:
        return replace(step, status=StepStatus.PENDING, summary="", progress=None, finished_at=None, started_at=None)
    if step.status.finished or step.status is StepStatus.FAILED:
        return step
    if step.status is StepStatus.PENDING:
        return replace(step, status=StepStatus.SKIPPED, finished_at=at, summary=f"not run: rolled back to {rollback.target}")
    if step.spec.action in ("watch", "post_watch") and rollback.breaches:
        return replace(step, status=StepStatus.FAILED, finished_at=at, summary=f"breach: {rollback.reason}")
    by = "shipdeck" if rollback.automatic else rollback.requested_by
    return replace(step, status=StepStatus.SKIPPED, finished_at=at, summary=f"stopped: rollback requested by {by}")


def _aborted(state: Release, event: Event) -> Release:
    if state.production_runs_new_version or state.production_unknown:
        return state  # production changed: the way out is a rollback, not an abort
    return replace(state, aborted_by=str(event.data.get("by", "?")), abort_reason=str(event.data.get("reason", "")))


def _failed(state: Release, event: Event) -> Release:
    if state.production_runs_new_version or state.production_unknown:
        return state
    return replace(state, failure=str(event.data.get("reason", "failed")))


_HANDLERS = {
    EventKind.STEP_STARTED: _step_started,
    EventKind.STEP_PROGRESSED: _step_progressed,
    EventKind.STEP_WAITING: _step_waiting,
    EventKind.STEP_PASSED: _step_finished(StepStatus.PASSED),
    EventKind.STEP_FAILED: _step_finished(StepStatus.FAILED),
    EventKind.STEP_SKIPPED: _step_finished(StepStatus.SKIPPED),
    EventKind.STEP_WAIVED: _step_waived,
    EventKind.STEP_RETRIED: _step_retried,
    EventKind.APPROVAL_GRANTED: _approval_granted,
    EventKind.INTENT: _intent,
    EventKind.OUTCOME: _outcome,
    EventKind.PRODUCTION_CHANGED: _production_changed,
    EventKind.PRODUCTION_OBSERVED: _production_observed,
    EventKind.FLAG_CHANGED: _flag_changed,
    EventKind.WATCH_STARTED: _watch_started,
    EventKind.SAMPLE: _sample,
    EventKind.BREACH_CONFIRMED: _breach_confirmed,
    EventKind.BASELINE_MEASURED: _baseline_measured,
    EventKind.ROLLBACK_REQUESTED: _rollback_requested,
    EventKind.RELEASE_ABORTED: _aborted,
    EventKind.RELEASE_FAILED: _failed,
}
