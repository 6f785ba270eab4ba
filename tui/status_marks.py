"""Symbols, words and theme styles for statuses: status is never shown by colour alone."""

from __future__ import annotations

from shipdeck.core.durations import format_duration
from shipdeck.core.model import Health, Phase, StepState, StepStatus

# Single-cell symbols only: a wide glyph would shift every column behind it in tmux/SSH.
STEP_MARKS: dict[StepStatus, tuple[str, str]] = {
    StepStatus.PENDING: ("·", "$text-muted"),
    StepStatus.RUNNING: ("…", "$accent bold"),
    StepStatus.WAITING: ("‖", "$warning bold"),
    StepStatus.PASSED: ("✓", "$success"),
    StepStatus.FAILED: ("✗", "$error bold"),
    StepStatus.SKIPPED: ("↷", "$text-muted"),
    StepStatus.WAIVED: ("!", "$warning"),
}

HEALTH_MARKS: dict[Health, tuple[str, str]] = {
    Health.OK: ("✓ ok", "$success bold"),
    Health.WARN: ("! warn", "$warning bold"),
    Health.BREACH: ("✗ BREACH", "$error bold reverse"),
    Health.BLIND: ("? BLIND", "$warning bold reverse"),
    Health.UNKNOWN: ("… no data yet", "$text-muted"),
}

STAGE_MARKS: dict[str, tuple[str, str]] = {
    "passed": ("✓", "$success"),
    "running": ("…", "$accent bold"),
    "failed": ("✗", "$error bold"),
    "pending": ("·", "$text-muted"),
}


def phase_style(phase: Phase) -> str:
    if phase in (Phase.FAILED, Phase.ROLLBACK_FAILED, Phase.ABORTED):
        return "$error bold"
    if phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
        return "$warning bold"
    if phase in (Phase.DONE, Phase.RELEASED):
        return "$success bold"
    return "$accent bold"


def step_duration(step: StepState, now: float) -> str:
    """How long the step took, or has been running; "" before it started."""
    if step.started_at is None:
        return ""
    end = step.finished_at if step.finished_at is not None else now
    return format_duration(max(0.0, end - step.started_at))
