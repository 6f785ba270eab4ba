"""The panel under the checklist: the highlighted (or current) step, its status and summary."""

from __future__ import annotations

from textual.content import Content

from .repaint import ChangedCells


class StepSummary(ChangedCells):
    """Shows the Content it is given; a ticking duration repaints only its own cells."""

    DEFAULT_CSS = """
    StepSummary { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._content = Content("")

    def show(self, content: Content) -> None:
        """Show `content`, repainting only what differs from what is shown."""
        self._content = content  # not compared here: Content's == looks at the text only
        self.repaint_changed()

    def render(self) -> Content:
        return self._content
