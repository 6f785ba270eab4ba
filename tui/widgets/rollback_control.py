"""The rollback control: always visible, disabled with the reason until production changed."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from shipdeck.core.machine import rollback_availability
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain


class RollbackControl(Horizontal):
    """A compact button plus one line saying why it is (un)available."""

    DEFAULT_CSS = """
    RollbackControl { height: 1; }
    RollbackControl > Button { min-width: 18; margin-right: 1; }
    RollbackControl > Button.-armed { background: $error; color: $text; text-style: bold; }
    RollbackControl > #rollback-why { width: 1fr; color: $text-muted; }
    """

    @dataclass
    class RollbackWanted(Message):
        """The captain activated the control (it only posts when the rollback is available)."""

    def __init__(self, state: Release, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state = state
        self._shown: tuple[bool, str] | None = None

    def compose(self) -> ComposeResult:
        yield Button(Content("⟲ Roll back [b]"), id="rollback-button", compact=True)
        yield Static(id="rollback-why")

    def on_mount(self) -> None:
        self.update_state(self._state)

    def update_state(self, state: Release) -> None:
        self._state = state
        available, why = rollback_availability(state)
        if (available, why) == self._shown:
            return  # an update of the Static would repaint (and lay out) it for nothing
        self._shown = (available, why)
        button = self.query_one("#rollback-button", Button)
        button.disabled = not available
        button.set_class(available, "-armed")
        # Said in words as well as by the button's look: NO_COLOR must still tell the two apart.
        prefix = ("available: ", "$error bold") if available else ("unavailable: ", "bold")
        self.query_one("#rollback-why", Static).update(Content.assemble(prefix, plain(why)))

    @property
    def available(self) -> bool:
        return rollback_availability(self._state)[0]

    @on(Button.Pressed, "#rollback-button")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.available:
            self.post_message(self.RollbackWanted())
