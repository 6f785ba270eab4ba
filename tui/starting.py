"""The cockpit's first frame when the release is not on disk yet: its runner is starting.

Shown until the runner answers on its socket (then the cockpit replaces it), or with the
runner's own message when it could not start. Light on purpose: it is what the captain sees
first, before anything of the release is known.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from shipdeck.core.sanitize import plain


class StartingScreen(Screen[None]):
    """Says what is happening and that this view is not attached to anything yet."""

    DEFAULT_CSS = """
    StartingScreen { align: center middle; background: $background; }
    StartingScreen > #starting { width: auto; max-width: 76; height: auto; padding: 1 2; background: $panel; }
    """
    BINDINGS = [Binding("q", "app.request_quit", "Quit")]

    def __init__(self, what: str) -> None:
        super().__init__(id="starting-screen")
        self.what = what

    def compose(self) -> ComposeResult:
        yield Static(self._text("starting the release runner…", "not attached yet: nothing is shown until it answers"), id="starting")

    def _text(self, line: str, detail: str, style: str = "$text-muted") -> Content:
        return Content.assemble(("shipdeck ", "$primary bold"), plain(self.what), "\n", (line, "bold"), "\n", (detail, style))

    def failed(self, message: str) -> None:
        """The runner could not start: its message (untrusted text, never markup) and the way out."""
        self.query_one("#starting", Static).update(
            self._text("the release runner did not start", f"{plain(message)}\nq leaves", "$error"))
