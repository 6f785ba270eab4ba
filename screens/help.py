"""Every key of the cockpit and what it does (the command palette has the same actions)."""

from __future__ import annotations

from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

EXPLANATIONS = {
    "approve": "approve the waiting approval (the highlighted step, else the current one)",
    "confirm": "confirm a manual step you have done",
    "waive": "waive a waiting or failed check, with a reason (journaled with your name)",
    "retry": "retry a failed or blocked step",
    "rollback": "open the rollback confirmation (only once production changed)",
    "flag_off": "turn a ramped feature flag off; you type its name to confirm",
    "abort": "abort the release (only before production changes)",
    "detail": "the highlighted step in full: output, evidence, approvals, waiver",
    "notes": "preview the drafted release notes",
    "history": "past releases from the journals",
    "follow": "move the cursor back to the current step and follow it",
    "help": "this screen",
    "quit_cockpit": "leave the cockpit (asks first mid-release; `shipdeck resume` continues)",
}
GENERAL = (
    ("↑ ↓  enter", "move in the checklist, open a step"),
    ("ctrl+p", "command palette: every action by name, and themes"),
    ("escape", "close a dialog or screen"),
)


def _key(binding: Binding) -> str:
    return binding.key.replace("full_stop", ".").replace("question_mark", "?")


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, bindings: Sequence[Binding]) -> None:
        super().__init__(id="help")
        self.bindings_shown = bindings

    def compose(self) -> ComposeResult:
        lines = [Content.styled("Keys", "bold")]
        for binding in self.bindings_shown:
            text = EXPLANATIONS.get(binding.action, binding.description)
            lines.append(Content.assemble((f" {_key(binding):<10}", "bold $accent"), text))
        lines.append(Content(""))
        for key, text in GENERAL:
            lines.append(Content.assemble((f" {key:<10}", "bold $accent"), text))
        lines.append(Content(""))
        lines.append(Content.styled("Statuses: ✓ passed  … running  ‖ waiting for a person  ✗ failed  ↷ skipped  ! waived  · pending", "$text-muted"))
        with VerticalScroll():
            yield Static(Content("\n").join(lines))

    def action_close(self) -> None:
        self.dismiss(None)
