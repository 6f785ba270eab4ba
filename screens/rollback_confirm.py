"""The guarded rollback: says exactly what will happen and makes the captain type the target."""

from __future__ import annotations

from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from shipdeck.core.commands import Command
from shipdeck.core.decisions import suggested_rollback_reason
from shipdeck.core.watching import breached_series, describe_breach
from shipdeck.core.decisions import migration_verdict as core_migration_verdict
from shipdeck.core.model import Health, Release, StepStatus
from shipdeck.core.sanitize import plain
from shipdeck.tui.cockpit_info import CockpitInfo
from shipdeck.tui.messages import CommandAnswered


_VERDICT_LOOKS = {"additive": ("✓ ", "$success"), "not-additive": ("! ", "$error bold"), "unknown": ("? ", "$warning")}


def migration_verdict(state: Release) -> tuple[str, str]:
    """(sentence, style) on whether the previous version's code can run on the current schema."""
    verdict, sentence = core_migration_verdict(state)
    mark, style = _VERDICT_LOOKS[verdict]
    return mark + plain(sentence), style


def breach_reason(state: Release) -> str:
    """The reason to prefill: the rollback criteria the engine sees met (breach or failed check)."""
    return plain(suggested_rollback_reason(state))


class RollbackConfirmScreen(ModalScreen[bool]):
    """Dismisses True once the runner accepted the rollback, False when cancelled."""

    DEFAULT_CSS = """
    RollbackConfirmScreen { align: center middle; }
    RollbackConfirmScreen > VerticalScroll { width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1; }
    RollbackConfirmScreen .label { color: $text-muted; }
    RollbackConfirmScreen Input { margin: 0; }
    RollbackConfirmScreen #rollback-answer { color: $error; text-style: bold; height: auto; }
    RollbackConfirmScreen #rollback-buttons { height: auto; margin-top: 1; }
    RollbackConfirmScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, info: CockpitInfo, state: Release, *, automatic: bool = False, why: str = "") -> None:
        super().__init__(id="rollback-confirm")
        self.info = info
        self.state = state
        self.automatic = automatic
        self.why = why
        self.target = state.rollback.target if state.rollback else state.previous_tag
        self._sending = False

    def compose(self) -> ComposeResult:
        state = self.state
        with VerticalScroll():
            yield Static(
                Content.assemble(
                    ("Roll back production: ", "bold $error"),
                    (plain(state.production_version or state.tag), "bold"),
                    " → ",
                    (plain(self.target), "bold $success"),
                ),
                id="rollback-title",
            )
            if self.automatic:
                yield Static(
                    Content.styled(f"! Raised automatically: {plain(self.why)}. Nothing happens until you confirm.", "$warning bold"),
                    id="rollback-auto",
                )
            yield Static(self._criteria(), id="rollback-criteria")
            sentence, style = migration_verdict(state)
            yield Static(Content.styled(sentence, style), id="rollback-migrations")
            yield Static(Content(f"Redeploys {plain(self.target)}, smoke tests it and announces “Rolled back to {plain(self.target)} due to …”."))
            yield Static(Content("Reason (announced):"), classes="label")
            yield Input(value=breach_reason(state) or "captain's call: ", id="rollback-reason", compact=True)
            yield Static(Content.assemble("Type ", (plain(self.target), "bold"), " to confirm:"), classes="label")
            yield Input(placeholder=f"type {plain(self.target)}", id="rollback-typed", compact=True)
            yield Static(id="rollback-answer")
            with Horizontal(id="rollback-buttons"):
                yield Button(Content(f"Roll back to {plain(self.target)}"), id="rollback-go", variant="error", compact=True)
                yield Button(Content("Cancel (Esc)"), id="rollback-cancel", compact=True)

    def _criteria(self) -> Content:
        lines = [Content.styled("Criteria:", "bold")]
        for health in self.state.series:
            spec = health.spec
            if health.health is Health.BREACH:
                sustained = ""
                if health.above_since is not None and health.last_sample_at is not None:
                    sustained = f" for {health.last_sample_at - health.above_since:.0f}s"
                since = ""
                if health.above_since is not None:
                    since = f" since {datetime.fromtimestamp(health.above_since).strftime('%H:%M:%S')}"
                lines.append(Content.styled(f"  ✗ BREACH {plain(describe_breach(health))}{sustained}{since}", "$error bold"))
            elif health.health is Health.BLIND:
                lines.append(Content.styled(f"  ? BLIND {plain(spec.name)}: no data — health unknown", "$warning bold"))
            elif health.last_value is not None:
                mark = "!" if health.health is Health.WARN else "✓"
                lines.append(Content(f"  {mark} {plain(spec.name)} {health.last_value:g}{plain(spec.unit)} ({health.health.value})"))
        if len(lines) == 1:
            lines.append(Content("  none breached: this is the captain's call"))
        return Content("\n").join(lines)

    def on_mount(self) -> None:
        # Focus starts in the typed-version field, never on the button: Enter alone cannot confirm.
        self.query_one("#rollback-typed", Input).focus()
        if not self.info.may_roll_back:
            roles = ", ".join(self.info.authority.rollback_roles)
            self._answer(f"✗ {self.info.identity} may not roll back (roles allowed: {roles}). Ask someone who holds one.")
            self.query_one("#rollback-go", Button).disabled = True
            self.query_one("#rollback-typed", Input).disabled = True

    def _answer(self, text: str) -> None:
        self.query_one("#rollback-answer", Static).update(Content(text))

    @on(Input.Submitted, "#rollback-typed")
    @on(Button.Pressed, "#rollback-go")
    def _confirm(self) -> None:
        if self._sending or not self.info.may_roll_back:
            return
        typed = self.query_one("#rollback-typed", Input).value
        reason = self.query_one("#rollback-reason", Input).value.strip()
        if typed.strip() not in (self.target, self.target.lstrip("v")):
            # Checked here as well as by the runner so a stray Enter never even reaches it.
            self._answer(f"✗ type {plain(self.target)} exactly to confirm (you typed {plain(typed)!r})")
            self.query_one("#rollback-typed", Input).value = ""
            return
        self._sending = True
        self._answer("… sending the rollback to the runner")
        command = Command(verb="rollback", by=self.info.identity, reason=reason, typed_target=typed.strip())
        self.app.send_command(command, target=self)  # type: ignore[attr-defined]

    @on(CommandAnswered)
    def _answered(self, message: CommandAnswered) -> None:
        message.stop()
        self._sending = False
        if message.refusal:
            self._answer(f"✗ refused: {message.refusal}")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#rollback-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
