"""The headless exit-code contract (DESIGN.md, "CLI contract"); the one place that owns it."""

from __future__ import annotations

from enum import IntEnum

from .machine import current_step, phase_of
from .model import Health, Phase, Release, StepStatus
from .watching import acting


class ExitCode(IntEnum):
    RELEASED = 0  # released (or nothing left to do)
    FAILED = 1  # failed before production changed
    USAGE = 2  # usage or configuration error
    ROLLED_BACK = 3  # production is on the previous version (or a breached flag back at its previous stage)
    WAITING = 4  # waiting for a person: approval, manual step, lock held, outside the window
    PAGE = 5  # production state unknown or rollback failed: page a human


def exit_code_for(state: Release) -> ExitCode:
    """What a headless run that stopped at `state` exits with."""
    phase = phase_of(state)
    if phase is Phase.DONE:
        return ExitCode.RELEASED
    if phase is Phase.ROLLED_BACK:
        return ExitCode.ROLLED_BACK
    if phase in (Phase.ROLLBACK_FAILED, Phase.ROLLING_BACK) or state.production_unknown:
        return ExitCode.PAGE
    breached = _ramp_breach(state)
    if breached is not None:
        return breached
    if phase in (Phase.FAILED, Phase.ABORTED):
        return ExitCode.FAILED
    production_changed = state.production_runs_new_version
    step = current_step(state)
    if production_changed and state.announced_healthy and not any(h.health is Health.BREACH for h in acting(state.series)):
        # Released and announced healthy: a post-release step (merge, notes) waits for a person.
        if step is None or step.spec.id != "post.watch" or step.status is not StepStatus.WAITING:
            return ExitCode.WAITING
    if production_changed:
        # Production runs the new version and the engine cannot vouch for it: blind metrics,
        # a failed check with nothing to roll back to, an unresolved breach.
        if any(h.health in (Health.BLIND, Health.BREACH) for h in acting(state.series)):
            return ExitCode.PAGE
        if step is not None and step.status is StepStatus.FAILED:
            return ExitCode.PAGE
        if step is not None and step.spec.id in ("watch", "post.watch") and step.status is StepStatus.WAITING:
            return ExitCode.PAGE
    return ExitCode.WAITING


def _ramp_breach(state: Release) -> ExitCode | None:
    """A ramp stage that failed on a sustained breach: the flag analogue of a rollback.

    Production is the version plus the flag states, so a flag the engine moved back to its
    previous stage is production returned to what it was: 3, as for a rollback, and a script
    treats both alike (something was bad and was undone). A flag left at the breaching stage
    because the move back failed is 5: production is known to be unhealthy and nobody undid it.
    None when no ramp stage failed on a breach.
    """
    for step in state.steps:
        if step.spec.action != "ramp_stage" or step.status is not StepStatus.FAILED:
            continue
        evidence = dict(step.evidence)
        if "breach" not in evidence:
            continue
        flag = str(step.spec.params.get("flag", ""))
        previous = str(step.spec.params.get("previous", "off"))
        now = str(state.flags.get(flag, {}).get("stage", ""))
        return ExitCode.ROLLED_BACK if now == previous else ExitCode.PAGE
    return None
