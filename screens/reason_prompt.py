"""Ask for the reason a waiver or an abort is journaled with."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ReasonPrompt(ModalScreen[str | None]):
    """Dismisses with the reason, or None when cancelled; an empty reason is not accepted."""

    DEFAULT_CSS = """
    ReasonPrompt { align: center middle; }
    ReasonPrompt > Vertical { width: 72; max-width: 95%; height: auto; border: thick $accent; background: $surface; padding: 1 2; }
    ReasonPrompt #reason-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, explanation: str) -> None:
        super().__init__()
        self.title_text, self.explanation = title, explanation

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.styled(self.title_text, "bold"))
            yield Static(Content.styled(self.explanation, "$text-muted"))
            yield Input(placeholder="reason (required)", id="reason")
            yield Static(id="reason-error")

    @on(Input.Submitted, "#reason")
    def _submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#reason-error", Static).update(Content("✗ a reason is required (Escape cancels)"))
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
