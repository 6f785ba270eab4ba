"""Shown instead of a squashed cockpit when the terminal is smaller than the minimum."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static


class TooSmallScreen(Screen[None]):
    """Says how big the terminal is and how big it must be; the app pops it once it fits."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > Static { width: auto; max-width: 100%; height: auto; padding: 0 1; color: $warning; text-style: bold; }
    """

    def __init__(self, min_width: int, min_height: int, width: int, height: int) -> None:
        super().__init__()
        self.min_width, self.min_height = min_width, min_height
        self.terminal_size = (width, height)

    def compose(self) -> ComposeResult:
        yield Static(self._message(), id="too-small")

    def on_screen_resume(self) -> None:
        # Uncovered by a modal that was pushed while the terminal was small: it may fit by now.
        self.app.check_size()  # type: ignore[attr-defined]

    def resized(self, width: int, height: int) -> None:
        """Show the new size. Resizes can arrive before compose has run, so nothing is assumed mounted."""
        self.terminal_size = (width, height)
        for message in self.query("#too-small").results(Static):
            message.update(self._message())

    def _message(self) -> Content:
        return Content(
            f"Terminal too small: {self.terminal_size[0]}×{self.terminal_size[1]}.\n"
            f"shipdeck needs at least {self.min_width}×{self.min_height}.\n"
            "Enlarge the window; the release keeps running."
        )
