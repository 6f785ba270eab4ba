"""Commands people send to the runner, and the pure rules that accept or refuse them.

A view (cockpit, `shipdeck approve` in another terminal, headless `--yes`) never changes a
release itself: it sends one of these, and the runner journals what it accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .machine import current_step, phase_of, rollback_availability
from .model import Release, StepKind, StepStatus


@dataclass(frozen=True)
class Command:
    """`verb` is one of approve, waive, confirm, retry, rollback, abort, flag_off (typed_target: the flag)."""

    verb: str
    by: str
    step: str = ""
    reason: str = ""
    typed_target: str = ""  # rollback: the target version the person typed

    def to_dict(self) -> dict[str, Any]:
        return dict(verb=self.verb, by=self.by, step=self.step, reason=self.reason, typed_target=self.typed_target)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Command:
        return cls(**{k: str(data.get(k, "")) for k in ("verb", "by", "step", "reason", "typed_target")})


@dataclass(frozen=True)
class Authority:
    """Who holds which role, and which roles may approve, waive and roll back."""

    roles: Mapping[str, Sequence[str]]
    approving_roles: Sequence[str]
    rollback_roles: Sequence[str]

    def roles_of(self, person: str) -> tuple[str, ...]:
        return tuple(r for r, people in self.roles.items() if person in people or "*" in people)

    def may(self, person: str, allowed_roles: Sequence[str]) -> bool:
        if not allowed_roles or not self.roles:
            return True  # no roles configured: every person on the bastion may act
        return bool(set(self.roles_of(person)) & set(allowed_roles))


def check(state: Release, command: Command, authority: Authority) -> str | None:
    """Why `command` is refused in `state`, or None when it may be carried out."""
    if not state.started:
        return "there is no active release"
    phase = phase_of(state)
    if phase.terminal:
        return f"the release is over ({phase.value}); nothing more can change it"
    if not command.by:
        return "who is acting is unknown: set SHIPDECK_USER"
    verb = command.verb
    if verb == "rollback":
        available, why = rollback_availability(state)
        if not available:
            return f"rollback is not available: {why}"
        if not authority.may(command.by, authority.rollback_roles):
            return f"{command.by} may not roll back (roles allowed: {', '.join(authority.rollback_roles)})"
        target = state.rollback.target if state.rollback else state.previous_tag
        if command.typed_target.strip() not in (target, target.lstrip("v")):
            return f"type the target version {target} exactly to confirm the rollback"
        if not command.reason.strip():
            return "a rollback needs a reason (it is announced: \"Rolled back to … due to …\")"
        return None
    if verb == "flag_off":
        ramped = sorted({str(s.spec.params["flag"]) for s in state.steps if s.spec.action == "ramp_stage" and s.spec.params.get("flag")})
        if not ramped:
            return "this release ramps no feature flag"
        if command.typed_target.strip() not in ramped:
            return f"type the flag's name exactly to turn it off ({', '.join(ramped)})"
        if not authority.may(command.by, authority.rollback_roles):
            return f"{command.by} may not turn a flag off (roles allowed: {', '.join(authority.rollback_roles)})"
        return None
    if verb == "abort":
        if state.production_runs_new_version or state.production_unknown:
            return "production has changed: the way back is a rollback, not an abort"
        if not authority.may(command.by, authority.approving_roles):
            return f"{command.by} may not abort this release"
        return None
    step = state.step(command.step) if command.step else current_step(state)
    if step is None:
        return f"no step {command.step!r} in this release" if command.step else "no step is waiting"
    if verb == "approve":
        if step.spec.kind is not StepKind.APPROVAL:
            return f"{step.id} is not an approval; use confirm or waive"
        if step.status is not StepStatus.WAITING:
            return f"{step.id} is {step.status.value}, not waiting for approval"
        held = set(authority.roles_of(command.by)) & set(step.spec.roles)
        if step.spec.roles and authority.roles and not held:
            return f"{command.by} does not hold a role that approves this ({', '.join(step.spec.roles)})"
        granted = {a.role for a in step.approvals}
        if held and held <= granted:
            return f"{command.by} has already approved as {', '.join(sorted(held))}"
        return None
    if verb == "confirm":
        if step.status is not StepStatus.WAITING or step.spec.kind is StepKind.APPROVAL:
            return f"{step.id} is {step.status.value}: nothing to confirm"
        return None
    if verb in ("waive", "retry"):
        if step.status not in (StepStatus.WAITING, StepStatus.FAILED):
            return f"{step.id} is {step.status.value}: only a waiting or failed step can be {verb}d"
        if verb == "waive":
            if step.spec.kind is StepKind.APPROVAL:
                return "an approval cannot be waived; it is approved by a person with the role"
            if step.spec.changes_production:
                return f"{step.id} changes production: it can be retried, not waived"
            if not command.reason.strip():
                return "a waiver needs a reason; it is journaled with your name"
            if not authority.may(command.by, authority.approving_roles):
                return f"{command.by} does not hold an approving role ({', '.join(authority.approving_roles)})"
        return None
    return f"unknown command {verb!r}"
