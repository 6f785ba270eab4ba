"""Questions about a release's state: its phase, its current step, whether it can roll back.

Pure functions of the state the reducer (`core/machine.py`) folds; the phase is never stored.
"""

from __future__ import annotations

from .model import Group, Phase, Release, StepState, StepStatus


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
