"""Repaint only the cells that changed: what keeps the cockpit cheap over a thin SSH link.

Textual writes to the terminal every cell of a widget's dirty region. A plain `refresh()`
marks the whole widget dirty, so a clock ticking in a header of 2×80 cells sends 160 cells a
second. `ChangedCells.repaint_changed()` renders the widget's content as Textual would, compares
it with what it drew last, and marks dirty only the span of each line that differs
(`refresh(region)`); an unchanged widget sends nothing.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from textual import events
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget


def line_cells(strip: Strip) -> list[tuple[str, object]]:
    """(character, style) per cell; a wide character's second cell repeats it."""
    cells: list[tuple[str, object]] = []
    for segment in strip:
        if segment.control:
            continue
        for character in segment.text:
            cell = (character, segment.style)
            cells.append(cell)
            if not character.isascii() and cell_len(character) > 1:
                cells.append(cell)
    return cells


def changed_regions(old: list[Strip], new: list[Strip], width: int) -> list[Region]:
    """Per line of `new`, the span of cells that differs from `old` (same size assumed)."""
    regions: list[Region] = []
    for y, (before, after) in enumerate(zip(old, new)):
        if before == after:
            continue
        old_cells, new_cells = line_cells(before), line_cells(after)
        if old_cells == new_cells:
            continue
        length = max(len(old_cells), len(new_cells))
        first = next((x for x in range(length) if _cell(old_cells, x) != _cell(new_cells, x)), 0)
        last = next((x for x in range(length - 1, -1, -1) if _cell(old_cells, x) != _cell(new_cells, x)), length - 1)
        start = min(first, width - 1)
        regions.append(Region(start, y, max(1, min(width, last + 1) - start), 1))
    return regions


def _cell(cells: list[tuple[str, object]], x: int) -> tuple[str, object] | None:
    return cells[x] if x < len(cells) else None


class ChangedCells(Widget):
    """A widget drawn by `render()` that repaints through `repaint_changed()` instead of `refresh()`.

    `render()` must depend only on attributes set before `repaint_changed()` is called (read a
    clock once, into an attribute), so that Textual's own render of the dirty spans draws the
    same thing that was compared.
    """

    AUTO_HEIGHT: ClassVar[bool] = False  # True: a change in the content's height needs a layout

    _drawn: list[Strip] | None = None
    _drawn_size: Size | None = None
    _drawn_height: int | None = None

    def on_resize(self, event: events.Resize) -> None:
        # Textual repaints the whole widget after a resize: remember what that draws.
        self._remember_drawn()

    def _render_now(self) -> tuple[Visual, int | None]:
        visual: Visual = visualize(self, self.render(), markup=False)
        return visual, visual.get_height(self.styles, self.size.width) if self.AUTO_HEIGHT else None

    def _remember_drawn(self) -> None:
        width, height = self.size
        if not width or not height:
            self._forget_drawn()
            return
        visual, self._drawn_height = self._render_now()
        self._drawn = Visual.to_strips(self, visual, width, height, self.visual_style)
        self._drawn_size = self.size

    def repaint_changed(self) -> None:
        """Mark dirty only the cells whose character or style changed since the last call."""
        width, height = self.size
        if not self.is_mounted or not width or not height:
            self._forget_drawn()
            self.refresh(layout=self.AUTO_HEIGHT)
            return
        visual, natural = self._render_now()
        if natural != self._drawn_height:
            self._forget_drawn()
            self._drawn_height = natural
            self.refresh(layout=True)
            return
        strips = Visual.to_strips(self, visual, width, height, self.visual_style)
        if self._drawn is None or self._drawn_size != self.size:
            regions: list[Region] | None = None
        else:
            regions = changed_regions(self._drawn, strips, width)
        self._drawn, self._drawn_size = strips, self.size
        if regions is None:
            self.refresh()
        elif regions:
            self.refresh(*regions)

    def _forget_drawn(self) -> None:
        self._drawn = self._drawn_size = None
