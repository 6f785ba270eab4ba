"""Live deploy (or rollback redeploy) progress: stages, tasks healthy, progress, ETA, log tail."""

from __future__ import annotations

from collections import deque
from typing import Any, Mapping

from textual.content import Content

from shipdeck.core.durations import format_duration
from shipdeck.core.model import Release, StepStatus
from shipdeck.core.sanitize import plain

from ..deploy_history import DEPLOY_STEP, DeployHistory
from ..status_marks import STAGE_MARKS, STEP_MARKS
from .repaint import ChangedCells

DEPLOY_STEPS = ("deploy", "rollback.deploy")
LOG_LINES_KEPT = 50  # bounded: only the tail is ever shown
BAR_MIN_WIDTH = 10


class DeployProgress(ChangedCells):
    """Fed STEP_PROGRESSED payloads by the screen; renders from its own small copy of them.

    Repaints only the cells that changed; a layout only when the number of lines changes.
    """

    AUTO_HEIGHT = True

    DEFAULT_CSS = """
    DeployProgress { height: auto; min-height: 4; max-height: 12; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._step_id = ""
        self._title = "Deploy"
        self._stages: list[tuple[str, str]] = []
        self._message = ""
        self._progress: float | None = None
        self._healthy: int | None = None
        self._desired: int | None = None
        self._log: deque[str] = deque(maxlen=LOG_LINES_KEPT)
        self._status: StepStatus = StepStatus.PENDING
        self._started_at: float | None = None
        self._now = 0.0
        self.log_lines_shown = 2
        self.history = DeployHistory()  # set by the screen once the journals were read

    def progressed(self, step_id: str, data: Mapping[str, Any]) -> None:
        """Take one STEP_PROGRESSED payload of a deploy step."""
        if step_id != self._step_id:
            self._step_id = step_id
            self._log.clear()
            self._stages = []
        stages = data.get("stages")
        if isinstance(stages, list):
            self._stages = [(plain(name), plain(status)) for name, status in stages]
        self._message = plain(data.get("message", ""))
        progress = data.get("progress")
        self._progress = float(progress) if progress is not None else self._progress
        self._healthy = data.get("healthy", self._healthy)
        self._desired = data.get("desired", self._desired)
        for line in data.get("log") or ():
            self._log.append(plain(line))
        self.repaint_changed()

    def update_state(self, state: Release, now: float) -> None:
        """Title and status come from the release: deploy first, the rollback's redeploy once asked."""
        step_id = "rollback.deploy" if state.rollback is not None else "deploy"
        step = state.step(step_id)
        self._now = now
        if step is None:
            return
        if state.rollback is not None:
            self._title = f"Rollback to {plain(state.rollback.target)}"
        else:
            self._title = f"Deploy {plain(state.tag)} to {plain(state.environment)}"
        if step_id != self._step_id and step.status is not StepStatus.PENDING:
            self._step_id = step_id
            self._log.clear()
            self._stages = []
            self._progress = step.progress
        self._status = step.status
        self._started_at = step.started_at
        if step.status.finished or step.status is StepStatus.FAILED:
            self._message = plain(step.summary) or self._message
        self.repaint_changed()

    def _eta(self, *, short: bool = False) -> str:
        """Time left, saying what it rests on: the median of earlier deploys when there are
        any, else an extrapolation of the progress so far (once there is some progress)."""
        if self._status is not StepStatus.RUNNING or self._started_at is None:
            return ""
        elapsed = max(0.0, self._now - self._started_at)
        typical, deploys = self.history.median_seconds, self.history.deploys
        if self._step_id == DEPLOY_STEP and typical is not None:
            basis = "median" if short else f"median of {deploys} deploy{'s' if deploys != 1 else ''}"
            if elapsed > typical:
                return f" over the {basis} ({format_duration(typical)})"
            return f" ETA {format_duration(typical - elapsed)} ({basis})"
        if not self._progress or self._progress < 0.05 or self._progress >= 1:
            return ""
        basis = "est." if short else "from progress"
        return f" ETA {format_duration(elapsed * (1 - self._progress) / self._progress)} ({basis})"

    def render(self) -> Content:
        symbol, style = STEP_MARKS[self._status]
        lines: list[Content] = []
        head = [(f"{symbol} ", style), (self._title, "bold"), (f"  {self._status.value}", style)]
        if self._healthy is not None and self._desired is not None:
            head.append((f"  tasks {self._healthy}/{self._desired} healthy", "$foreground"))
        lines.append(Content.assemble(*head))
        if self._status is StepStatus.PENDING and not self._stages:
            lines.append(Content.styled("not started: production is unchanged", "$text-muted"))
            return Content("\n").join(lines)
        if self._stages:
            stage_parts: list[tuple[str, str] | str] = []
            for name, status in self._stages:
                mark, mark_style = STAGE_MARKS.get(status, ("·", "$text-muted"))
                stage_parts += [(f"{mark} ", mark_style), (name, "bold" if status == "running" else ""), "  "]
            lines.append(Content.assemble(*stage_parts))
        lines.append(self._bar())
        if self._status is StepStatus.FAILED and self._message:
            lines.append(Content.styled(f"✗ {self._message}", "$error bold"))
        shown = self.log_lines_shown if self.app.size.height < 40 else 8  # a tall terminal shows more log
        for line in list(self._log)[-shown:]:
            lines.append(Content.styled(f"│ {line}", "$text-muted"))
        return Content("\n").join(lines)

    def _bar(self) -> Content:
        # A deployer that reports no fraction (a command, a workflow) is done when its step passed.
        progress = 1.0 if self._status is StepStatus.PASSED else min(1.0, max(0.0, self._progress or 0.0))
        room = self.size.width - 2  # the padding
        label = f" {progress * 100:3.0f}%{self._eta()}"
        if room - len(label) < BAR_MIN_WIDTH:
            label = f" {progress * 100:3.0f}%{self._eta(short=True)}"
        width = max(BAR_MIN_WIDTH, room - len(label))
        filled = round(width * progress)
        return Content.assemble(("█" * filled, "$accent"), ("░" * (width - filled), "$text-muted"), label)
