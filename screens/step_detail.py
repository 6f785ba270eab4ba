"""One step in full: status, timing, summary, evidence, approvals, waiver."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from shipdeck.core.model import StepState
from shipdeck.core.sanitize import plain
from shipdeck.tui.status_marks import STEP_MARKS, step_duration


def _clock(at: float | None) -> str:
    return datetime.fromtimestamp(at).strftime("%H:%M:%S") if at is not None else "—"


class StepDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    StepDetailScreen { align: center middle; }
    StepDetailScreen > VerticalScroll { width: 100; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,d,q", "close", "Close")]

    def __init__(self, step: StepState, now: float) -> None:
        super().__init__(id="step-detail")
        self.step = step
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._text(), id="step-detail-text")

    def _text(self) -> Content:
        step, spec = self.step, self.step.spec
        symbol, style = STEP_MARKS[step.status]
        lines = [
            Content.assemble((f"{symbol} {plain(spec.title)}", f"bold {style}"), (f"  ({plain(spec.id)})", "$text-muted")),
            Content.assemble(
                ("status ", "$text-muted"), (step.status.value, style),
                ("  kind ", "$text-muted"), spec.kind.value,
                ("  attempt ", "$text-muted"), str(step.attempt),
            ),
            Content.assemble(
                ("started ", "$text-muted"), _clock(step.started_at),
                ("  finished ", "$text-muted"), _clock(step.finished_at),
                ("  took ", "$text-muted"), step_duration(step, self.now) or "—",
            ),
            Content(""),
            Content.styled("Summary", "bold"),
            Content(plain(step.summary) or "—"),
        ]
        if spec.roles:
            lines.append(Content.assemble(("roles ", "$text-muted"), plain(", ".join(spec.roles)), (" (all)" if spec.all_roles else " (any one)", "$text-muted")))
        if step.approvals:
            lines += [Content(""), Content.styled("Approvals", "bold")]
            for approval in step.approvals:
                reason = f": {plain(approval.reason)}" if approval.reason else ""
                lines.append(Content(f"  ✓ {plain(approval.by)} as {plain(approval.role)} at {_clock(approval.at)}{reason}"))
        if step.waived_by:
            lines += [Content(""), Content.styled(f"! Waived by {plain(step.waived_by)}: {plain(step.waive_reason)}", "$warning bold")]
        if step.evidence:
            lines += [Content(""), Content.styled("Evidence", "bold")]
            width = min(28, max(len(plain(label)) for label, _ in step.evidence))
            for label, value in step.evidence:
                lines.append(Content.assemble((f"  {plain(label):<{width}} ", "$text-muted"), plain(value)))
        lines += [Content(""), Content.styled("Esc closes", "$text-muted")]
        return Content("\n").join(lines)

    def action_close(self) -> None:
        self.dismiss(None)
