"""The pure reducer: `apply(state, event) -> state` and `next_actions(state, policy)`.

No I/O and no clock: time comes from the events themselves, so the same journal always
replays into the same state. The phase is never stored; it follows from the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

from .events import Event, EventKind
from .model import (
    Approval,
    Group,
    Health,
    Intent,
    Phase,
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

# ---------------------------------------------------------------------------------------
# Phase


def phase_of(state: Release) -> Phase:
    """Derive the phase from the steps (never stored, so it cannot disagree with them)."""
    if state.aborted_by:
        return Phase.ABORTED
    if state.failure:
        return Phase.FAILED
    if state.rollback is not None:
        rollback_steps = [s for s in state.steps if s.spec.group is Group.ROLLBACK]
        if any(s.status is StepStatus.FAILED for s in rollback_steps):
            return Phase.ROLLBACK_FAILED
        if all(s.status.finished for s in rollback_steps):
            return Phase.ROLLED_BACK
        return Phase.ROLLING_BACK
    release_steps = [s for s in state.steps if s.spec.group is not Group.ROLLBACK]
    if not release_steps:
        return Phase.PREFLIGHT
    for step in release_steps:
        if not step.status.finished:
            return step.spec.phase
    return Phase.DONE


def is_terminal(state: Release) -> bool:
    return state.started and phase_of(state).terminal


def current_step(state: Release) -> StepState | None:
    """The first unfinished step of the active track (rollback steps once one is requested)."""
    track = Group.ROLLBACK if state.rollback is not None else None
    for step in state.steps:
        in_track = (step.spec.group is Group.ROLLBACK) == (track is Group.ROLLBACK)
        if in_track and not step.status.finished:
            return step
    return None


def rollback_availability(state: Release) -> tuple[bool, str]:
    """Whether a person may request a rollback now, and if not, why not (shown in the UI)."""
    if not state.started:
        return False, "no active release"
    phase = phase_of(state)
    if phase.terminal:
        return False, f"the release is over ({phase.value})"
    if phase is Phase.ROLLING_BACK:
        return False, f"rolling back to {state.rollback.target if state.rollback else '?'}"
    if not state.previous_tag:
        return False, "no previous release tag to roll back to"
    if phase is Phase.ROLLBACK_FAILED:
        return True, "retry the failed rollback"
    if state.production_runs_new_version:
        return True, f"production runs {state.tag}"
    if state.production_unknown and not any(
        s.status is StepStatus.RUNNING for s in state.steps if s.spec.changes_production
    ):
        return True, "production state unknown: a deploy's outcome was never recorded"
    return False, f"production has not changed yet (still {state.previous_tag})"


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
        rollback=rollback,
    )


def _update_step(state: Release, step_id: str, **changes: object) -> Release:
    steps = tuple(replace(s, **changes) if s.id == step_id else s for s in state.steps)  # type: ignore[arg-type]
    return replace(state, steps=steps)


def _evidence(data: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    raw = data.get("evidence") or {}
    if isinstance(raw, Mapping):
        return tuple((str(k), str(v)) for k, v in raw.items())
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


def _step_finished(status: StepStatus):
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
    done = state.done_keys | {key} if event.data.get("status") == "done" else state.done_keys
    return replace(state, intents=tuple(i for i in state.intents if i.key != key), done_keys=done)


def _production_changed(state: Release, event: Event) -> Release:
    return replace(state, production_version=str(event.data["version"]), production_changed_at=event.at)


def observe(health: SeriesHealth, at: float, value: float | None, policy: WatchPolicy) -> SeriesHealth:
    """Fold one metric sample into a series' health.

    A rollback criterion counts only once it has held for `policy.breach_for`; a gap in the
    data longer than `policy.blind_after` is blind, which is never healthy.
    """
    first_poll_at = health.first_poll_at if health.first_poll_at is not None else at
    if value is None:
        reference = health.last_sample_at if health.last_sample_at is not None else first_poll_at
        health = replace(health, first_poll_at=first_poll_at, last_poll_at=at)
        if at - reference >= policy.blind_after:
            return replace(
                health,
                health=Health.BLIND,
                blind_since=health.blind_since if health.blind_since is not None else at,
                was_blind=True,
                above_since=None,
            )
        return health
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
        first_poll_at=first_poll_at,
        last_value=value,
        last_sample_at=at,
        last_poll_at=at,
        above_since=above_since,
        breach_at=breach_at,
        blind_since=None,
    )


def _sample(state: Release, event: Event) -> Release:
    name = event.data["series"]
    at = float(event.data.get("at", event.at))
    value = event.data.get("value")
    series = tuple(
        observe(h, at, None if value is None else float(value), state.watch_policy) if h.spec.name == name else h
        for h in state.series
    )
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
    steps = []
    for step in state.steps:
        if step.spec.group is Group.ROLLBACK:
            # A retried rollback starts its steps again.
            steps.append(replace(step, status=StepStatus.PENDING, summary="", progress=None, finished_at=None))
        elif not step.status.finished:
            steps.append(
                replace(step, status=StepStatus.SKIPPED, finished_at=event.at, summary="superseded by rollback")
            )
        else:
            steps.append(step)
    return replace(state, rollback=rollback, steps=tuple(steps))


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
    EventKind.SAMPLE: _sample,
    EventKind.ROLLBACK_REQUESTED: _rollback_requested,
    EventKind.RELEASE_ABORTED: _aborted,
    EventKind.RELEASE_FAILED: _failed,
}


# ---------------------------------------------------------------------------------------
# What to do next


@dataclass(frozen=True)
class Policy:
    """How the runner may act without asking: `auto` is headless, `assume_yes` is --yes."""

    auto: bool = False
    assume_yes: bool = False
    identity: str = ""
    roles: Mapping[str, Sequence[str]] = None  # type: ignore[assignment]
    skip_optional: bool = False

    def roles_of(self, person: str) -> tuple[str, ...]:
        return tuple(role for role, people in (self.roles or {}).items() if person in people or "*" in people)


@dataclass(frozen=True)
class RunStep:
    step: str


@dataclass(frozen=True)
class SkipStep:
    step: str
    reason: str


@dataclass(frozen=True)
class Approve:
    step: str
    by: str
    role: str
    reason: str


@dataclass(frozen=True)
class ConfirmManual:
    step: str
    by: str


@dataclass(frozen=True)
class RequestRollback:
    reason: str
    breaches: tuple[str, ...] = ()


@dataclass(frozen=True)
class FailRelease:
    reason: str


Action = RunStep | SkipStep | Approve | ConfirmManual | RequestRollback | FailRelease


def breached_series(state: Release) -> list[SeriesHealth]:
    return [h for h in state.series if h.health is Health.BREACH]


def describe_breach(health: SeriesHealth) -> str:
    unit = health.spec.unit
    return f"{health.spec.name} {health.last_value:g}{unit} > {health.spec.rollback_above:g}{unit}"


def watch_verdict(series: Sequence[SeriesHealth], blind_during: Iterable[str]) -> tuple[bool, str]:
    """Whether a finished watch may pass. Blind at any point, or a breach still open, never passes."""
    blind = sorted(set(blind_during) | {h.spec.name for h in series if h.health is Health.BLIND})
    if blind:
        return False, (
            f"blind: no data for {', '.join(blind)} during the watch; production health is unknown. "
            "Check by hand, then waive with a reason, or roll back"
        )
    if any(h.health is Health.UNKNOWN for h in series):
        missing = ", ".join(h.spec.name for h in series if h.health is Health.UNKNOWN)
        return False, f"no sample at all for {missing}: production health is unknown"
    breaches = [h for h in series if h.health is Health.BREACH]
    if breaches:
        return False, "breach unresolved: " + "; ".join(describe_breach(h) for h in breaches) + " — roll back or waive"
    return True, "all series healthy"


def next_actions(state: Release, policy: Policy) -> list[Action]:
    """The actions the runner should take now. Empty means: wait (for a task or a person)."""
    if not state.started or phase_of(state).terminal:
        return []
    step = current_step(state)
    if state.rollback is not None:
        if step is None or step.status is StepStatus.FAILED:
            return []
        return [RunStep(step.id)] if step.status in (StepStatus.PENDING, StepStatus.RUNNING) else []

    production_changed = state.production_runs_new_version or state.production_unknown
    if production_changed and policy.auto and state.previous_tag:
        breaches = breached_series(state)
        if breaches:
            text = "; ".join(describe_breach(h) for h in breaches)
            return [RequestRollback(reason=f"sustained breach: {text}", breaches=tuple(h.spec.name for h in breaches))]
    if step is None:
        return []
    if step.status is StepStatus.FAILED:
        if not policy.auto:
            return []
        if production_changed:
            if state.previous_tag:
                return [RequestRollback(reason=f"{step.spec.title} failed: {step.summary}")]
            return []
        return [FailRelease(reason=f"{step.spec.title} failed: {step.summary}")]
    if step.status is StepStatus.PENDING and step.spec.optional and policy.skip_optional:
        return [SkipStep(step.id, "skipped by the hotfix fast-track")]
    if step.status is StepStatus.WAITING:
        if not policy.assume_yes:
            return []
        if step.spec.kind is StepKind.APPROVAL:
            held = [r for r in policy.roles_of(policy.identity) if r in step.spec.roles]
            granted = {a.role for a in step.approvals}
            missing = [r for r in held if r not in granted]
            if missing:
                return [Approve(step.id, policy.identity, missing[0], "--yes")]
            return []
        if step.spec.kind is StepKind.MANUAL:
            return [ConfirmManual(step.id, policy.identity)]
        return []
    if step.status in (StepStatus.PENDING, StepStatus.RUNNING):
        return [RunStep(step.id)]
    return []


def failed_after_production_changed(state: Release) -> StepState | None:
    """A release step that failed once production ran the new version (a rollback criterion)."""
    if state.rollback is not None or not (state.production_runs_new_version or state.production_unknown):
        return None
    step = current_step(state)
    return step if step is not None and step.status is StepStatus.FAILED else None


def suggested_rollback_reason(state: Release) -> str:
    """The rollback criteria met right now, as the reason a person would announce."""
    breaches = breached_series(state)
    if breaches:
        return "sustained breach: " + "; ".join(describe_breach(h) for h in breaches)
    failed = failed_after_production_changed(state)
    if failed is not None:
        return f"{failed.spec.title} failed: {failed.summary}"
    return ""


def migration_verdict(state: Release) -> tuple[str, str]:
    """("additive" | "not-additive" | "unknown", a sentence) for rolling back past this release.

    A release whose migrations were not additive (the check was waived) may have dropped or
    renamed what the previous version still reads; rolling back past it is flagged.
    """
    step = state.step("preflight.migrations")
    previous = state.previous_tag or "the previous version"
    if step is None:
        return "unknown", "migrations: not checked in this plan — check the schema by hand"
    if step.status is StepStatus.PASSED:
        return "additive", f"migrations additive ({step.summary}): {previous} runs on the new schema"
    if step.status is StepStatus.WAIVED:
        return "not-additive", (
            f"migrations NOT additive — waived by {step.waived_by or '?'}: {step.waive_reason}. "
            f"{previous} may fail on the new schema: check before confirming"
        )
    return "unknown", f"migrations {step.status.value}: {step.summary or 'no verdict'} — check the schema by hand"
