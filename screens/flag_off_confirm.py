"""The guarded "flag off": says what will happen and makes the captain type the flag's name."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from shipdeck.core.commands import Command
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain
from shipdeck.tui.cockpit_info import CockpitInfo
from shipdeck.tui.messages import CommandAnswered
from shipdeck.tui.widgets.flags_panel import flag_row, flag_steps, ramped_flags


class FlagOffConfirmScreen(ModalScreen[bool]):
    """Dismisses True once the runner turned the flag off, False when cancelled."""

    DEFAULT_CSS = """
    FlagOffConfirmScreen { align: center middle; }
    FlagOffConfirmScreen > VerticalScroll { width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1; }
    FlagOffConfirmScreen .label { color: $text-muted; }
    FlagOffConfirmScreen Input { margin: 0; }
    FlagOffConfirmScreen #flag-off-answer { color: $error; text-style: bold; height: auto; }
    FlagOffConfirmScreen #flag-off-buttons { height: auto; margin-top: 1; }
    FlagOffConfirmScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, info: CockpitInfo, state: Release) -> None:
        super().__init__(id="flag-off-confirm")
        self.info = info
        self.state = state
        # Only the flags the plan ramps: the runner refuses any other name (core/commands.py).
        self.flags = [flag for flag in ramped_flags(state) if flag_steps(state, flag)]
        self._sending = False

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Content.styled("Turn a feature flag off in production", "bold $error"), id="flag-off-title")
            yield Static(self._flags(), id="flag-off-flags")
            yield Static(
                Content(
                    "One journaled change turns the flag off for everyone (the team too); its remaining "
                    "ramp stages are skipped with your name and reason. The version stays as it is."
                )
            )
            yield Static(Content("Reason (journaled):"), classes="label")
            yield Input(value="captain's call: ", id="flag-off-reason", compact=True)
            yield Static(Content("Type the flag's name to confirm:"), classes="label")
            yield Input(placeholder="type the flag's name", id="flag-off-typed", compact=True)
            yield Static(id="flag-off-answer")
            with Horizontal(id="flag-off-buttons"):
                yield Button(Content("Turn it off"), id="flag-off-go", variant="error", compact=True)
                yield Button(Content("Cancel (Esc)"), id="flag-off-cancel", compact=True)

    def _flags(self) -> Content:
        now = self.info.now()
        lines = [Content.styled("Flags this release ramps:", "bold")]
        for flag in self.flags:
            row = flag_row(self.state, flag, now)
            # Flag names come from config and the flag system: literal text, never markup.
            lines.append(Content.assemble("  ⚑ ", (plain(flag), "bold"), "  ", (plain(row.stage) or "not moved yet", "$accent"), f"  {row.serves}"))
        if not self.flags:
            lines.append(Content("  none: this release ramps no feature flag"))
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        # Focus starts in the typed-name field, never on the button: Enter alone cannot confirm.
        typed = self.query_one("#flag-off-typed", Input)
        typed.focus()
        refusal = ""
        if not self.flags:
            refusal = "✗ this release ramps no feature flag: nothing to turn off."
        elif not self.info.may_roll_back:
            roles = ", ".join(self.info.authority.rollback_roles)
            refusal = f"✗ {self.info.identity} may not turn a flag off (roles allowed: {roles}). Ask someone who holds one."
        if refusal:
            self._answer(refusal)
            self.query_one("#flag-off-go", Button).disabled = True
            typed.disabled = True

    def _answer(self, text: str) -> None:
        self.query_one("#flag-off-answer", Static).update(Content(text))

    @on(Input.Submitted, "#flag-off-typed")
    @on(Button.Pressed, "#flag-off-go")
    def _confirm(self) -> None:
        if self._sending or not self.flags or not self.info.may_roll_back:
            return
        typed_field = self.query_one("#flag-off-typed", Input)
        typed = typed_field.value.strip()
        reason = self.query_one("#flag-off-reason", Input).value.strip()
        if typed not in self.flags:
            # Checked here as well as by the runner so a stray Enter never even reaches it.
            names = ", ".join(plain(flag) for flag in self.flags)
            self._answer(f"✗ type a flag's name exactly to turn it off ({names}); you typed {plain(typed_field.value)!r}")
            typed_field.value = ""
            return
        self._sending = True
        self._answer(f"… sending “turn {plain(typed)} off” to the runner")
        command = Command(verb="flag_off", by=self.info.identity, reason=reason, typed_target=typed)
        self.app.send_command(command, target=self)  # type: ignore[attr-defined]

    @on(CommandAnswered)
    def _answered(self, message: CommandAnswered) -> None:
        message.stop()
        if not self._sending:
            return  # an answer to nothing this dialog sent never closes it
        self._sending = False
        if message.refusal:
            self._answer(f"✗ refused: {message.refusal}")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#flag-off-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
