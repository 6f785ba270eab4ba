"""Quitting mid-release: say what happens to the release before the captain leaves."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from shipdeck.core.machine import current_step, phase_of
from shipdeck.core.model import Release, StepStatus
from shipdeck.core.sanitize import plain
from shipdeck.tui.cockpit_info import CockpitInfo


class QuitConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    QuitConfirmScreen { align: center middle; }
    QuitConfirmScreen > Vertical { width: 72; max-width: 95%; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    QuitConfirmScreen #quit-buttons { height: auto; margin-top: 1; }
    QuitConfirmScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "quit", "Quit"),
        Binding("n,escape", "stay", "Stay"),
    ]

    def __init__(self, state: Release, info: CockpitInfo) -> None:
        super().__init__()
        self.state = state
        self.info = info

    def compose(self) -> ComposeResult:
        state = self.state
        step = current_step(state)
        lines = [
            Content.assemble(("Quit the cockpit while ", "bold"), (plain(state.tag), "$primary bold"), (f" is at {phase_of(state).value}?", "bold")),
            Content(""),
        ]
        if self.info.runner_process:
            lines += [
                Content("The release goes on in its own runner process; quitting only closes this view."),
                Content("Until production changes it waits for a person; after, it finishes the watch and rolls back on its own on a sustained breach."),
                Content.assemble("Run ", (plain(self.info.resume_command), "bold $accent"), " to attach again."),
            ]
        else:
            lines += [
                Content("The release stays where it is: every event so far is in the journal"),
                Content.styled(plain(str(self.info.journal_path or "")), "$text-muted"),
                Content.assemble("Production keeps running ", (plain(state.production_version or "its current version"), "bold"), "; nothing is rolled back."),
            ]
            if step is not None and step.status is StepStatus.RUNNING:
                lines.append(Content(f"“{plain(step.spec.title)}” is running; on resume shipdeck reconciles it with the outside system rather than repeating it."))
            lines.append(Content.assemble("Run ", (plain(self.info.resume_command), "bold $accent"), " to continue from here."))
        with Vertical():
            yield Static(Content("\n").join(lines))
            with Horizontal(id="quit-buttons"):
                yield Button(Content("Quit (y)"), id="quit", variant="warning")
                yield Button(Content("Stay (n)"), id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()  # Enter right after q stays, never quits

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit")

    def action_quit(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(False)
