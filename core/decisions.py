"""What the runner should do next, and the rollback guidance views and the journal share.

Pure: reads a state, returns actions or sentences. The reducer (machine.py) says what *is*;
this says what to *do* about it, under a policy (headless or not, --yes, roles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .machine import current_step, phase_of
from .model import Release, StepKind, StepState, StepStatus
from .watching import breached_series, describe_breach


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
    # A breach while a flag ramp stage runs is the ramp's to act on (the flag goes back a stage);
    # the release's version already passed its own watch.
    ramping = step is not None and step.spec.action == "ramp_stage"
    if production_changed and policy.auto and state.previous_tag and not ramping:
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
            if state.announced_healthy:
                return []  # released and announced: a post-release failure waits for a person
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
    if state.announced_healthy:
        return None  # a post-release failure (merge, notes) is not a rollback criterion
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
