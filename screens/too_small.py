"""Shown instead of a squashed cockpit when the terminal is smaller than the minimum."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static


class TooSmallScreen(Screen[None]):
    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > Static { width: auto; max-width: 100%; height: auto; padding: 0 1; color: $warning; text-style: bold; }
    """

    def __init__(self, min_width: int, min_height: int) -> None:
        super().__init__()
        self.min_width, self.min_height = min_width, min_height

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def on_mount(self) -> None:
        self.resized(*self.app.size)

    def on_resize(self) -> None:
        self.app.check_size()  # type: ignore[attr-defined]

    def resized(self, width: int, height: int) -> None:
        self.query_one("#too-small", Static).update(
            Content(
                f"Terminal too small: {width}×{height}.\n"
                f"shipdeck needs at least {self.min_width}×{self.min_height}.\n"
                "Enlarge the window; the release keeps running."
            )
        )
