"""One watched metric as a chart whose time axis is the whole watch window.

New samples fill columns in from the left instead of scrolling the plot, so a refresh only
changes a column or two (what a slow SSH link to a bastion wants); redraws are coalesced to
at most one a second. Samples are folded into a fixed number of buckets, so memory does not
grow with the length of the watch.
"""

from __future__ import annotations

import time
from datetime import datetime

from textual.content import Content

from shipdeck.core.model import Health, SeriesHealth
from shipdeck.core.sanitize import plain

from ..status_marks import HEALTH_MARKS
from .repaint import ChangedCells

BUCKETS = 480  # more than any terminal is wide; bounds memory for any watch length
REDRAW_EVERY = 1.0  # seconds: at most one chart redraw per second
BLOCKS = " ▁▂▃▄▅▆▇█"
GUTTER = 7


def _fmt(value: float, unit: str) -> str:
    if unit == "ms" and abs(value) >= 1000:
        return f"{value / 1000:.1f}s"
    if abs(value) >= 1000:
        text = f"{value / 1000:.1f}k"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    else:
        text = f"{value:.2g}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text}{unit}"


class MetricChart(ChangedCells):
    """Attributes down: `window`, `deploy_at`, `health` from the screen; samples via `add_sample`.

    A redraw sends only the cells that changed: the title's value and the newest column.
    """

    DEFAULT_CSS = """
    MetricChart { height: 1fr; min-height: 4; padding: 0 1 0 0; }
    """

    def __init__(self, health: SeriesHealth, *, clock=time.monotonic, id: str | None = None) -> None:
        super().__init__(id=id)
        self.health = health
        self.window_start: float | None = None
        self.window_span = 0.0
        self.deploy_at: float | None = None
        self._peaks: list[float | None] = [None] * BUCKETS
        self._gaps = [False] * BUCKETS  # a poll answered with no data in this bucket
        self._observed_max = 0.0
        self._clock = clock
        self._last_redraw = float("-inf")
        self._redraw_pending = False

    # -- data ------------------------------------------------------------------------

    def set_window(self, start: float, span: float) -> None:
        """Fix the time axis once; samples before it are kept in the first bucket."""
        if self.window_start is not None or span <= 0:
            return
        self.window_start, self.window_span = start, span
        self._request_redraw()

    def add_sample(self, at: float, value: float | None) -> None:
        if self.window_start is None:
            return
        position = (at - self.window_start) / self.window_span
        index = min(BUCKETS - 1, max(0, int(position * BUCKETS)))
        if value is None:
            self._gaps[index] = True
        else:
            peak = self._peaks[index]
            self._peaks[index] = value if peak is None else max(peak, value)
            self._observed_max = max(self._observed_max, value)
        self._request_redraw()

    def set_health(self, health: SeriesHealth) -> None:
        if health != self.health:
            self.health = health
            self._request_redraw()

    # -- throttled refresh ---------------------------------------------------------------

    def _request_redraw(self) -> None:
        if self._redraw_pending:
            return
        wait = self._last_redraw + REDRAW_EVERY - self._clock()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_pending = True
            self.set_timer(wait, self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self._last_redraw = self._clock()
        self.repaint_changed()

    # -- drawing ---------------------------------------------------------------------

    def _baseline(self) -> float | None:
        """The level measured before the deploy when the journal has it, else the configured one."""
        measured = self.health.measured_baseline
        return measured if measured is not None else self.health.spec.baseline

    def _scale_top(self) -> float:
        spec = self.health.spec
        # The scale only grows, and only when a value needs it: a steady scale keeps most of
        # the plot unchanged between refreshes.
        candidates = [self._observed_max * 1.1, 1.0]
        for line in (spec.rollback_above, spec.warn_above):
            if line is not None:
                candidates.append(line * 1.25)
        baseline = self._baseline()
        if baseline is not None:
            candidates.append(baseline * 2)
        return max(candidates)

    def _title(self, width: int) -> Content:
        spec, health = self.health.spec, self.health
        unit = plain(spec.unit)
        mark, style = HEALTH_MARKS[health.health]
        value = "—" if health.last_value is None else _fmt(health.last_value, unit)
        if health.health is Health.BLIND:
            value = "no data"
        parts: list[tuple[str, str] | str] = [(plain(spec.name), "bold"), " ", (value, style), " ", (mark, style)]
        limits = []
        baseline = self._baseline()
        if baseline is not None:
            word = "before" if health.measured_baseline is not None else "base"
            limits.append(f"{word} {_fmt(baseline, unit)}")
        if spec.rollback_above is not None:
            limits.append(f"rollback >{_fmt(spec.rollback_above, unit)}")
        if spec.warn_above is not None:
            limits.append(f"warn >{_fmt(spec.warn_above, unit)}")
        if limits and width >= 44:
            parts.append(("  " + " ".join(limits), "$text-muted"))
        if self.window_start is not None and width >= 70:
            start = datetime.fromtimestamp(self.window_start).strftime("%H:%M")
            end = datetime.fromtimestamp(self.window_start + self.window_span).strftime("%H:%M")
            parts.append((f"  {start}→{end}", "$text-muted"))
        return Content.assemble(*parts)

    def _columns(self, width: int) -> tuple[list[float | None], list[bool], list[bool]]:
        """Peak, gap and has-data per screen column (buckets folded into the width)."""
        peaks: list[float | None] = []
        gaps: list[bool] = []
        for column in range(width):
            first = column * BUCKETS // width
            last = max(first + 1, (column + 1) * BUCKETS // width)
            values = [v for v in self._peaks[first:last] if v is not None]
            peaks.append(max(values) if values else None)
            gaps.append(any(self._gaps[first:last]))
        marker = [False] * width
        if self.deploy_at is not None and self.window_start is not None:
            position = (self.deploy_at - self.window_start) / self.window_span
            if 0 <= position <= 1:
                marker[min(width - 1, int(position * width))] = True
        return peaks, gaps, marker

    def render(self) -> Content:
        width, height = self.size.width, self.size.height
        title = self._title(width)
        rows = height - 1
        if self.window_start is None or rows < 1:
            note = Content.styled("waiting for the deploy: the watch starts once production changes", "$text-muted")
            return Content("\n").join([title, note])
        show_axis = rows >= 5
        if show_axis:
            rows -= 1
        plot_width = max(4, width - GUTTER)
        top = self._scale_top()
        spec = self.health.spec
        peaks, gaps, marker = self._columns(plot_width)
        rollback_row = self._row_of(spec.rollback_above, top, rows)
        warn_row = self._row_of(spec.warn_above, top, rows)
        baseline = self._baseline()
        baseline_row = self._row_of(baseline, top, rows)
        lines: list[Content] = [title]
        for row in range(rows - 1, -1, -1):  # top row first
            row_bottom = row / rows * top
            label = ""
            if row == rollback_row:
                label = _fmt(spec.rollback_above, plain(spec.unit))  # type: ignore[arg-type]
            elif row == warn_row:
                label = _fmt(spec.warn_above, plain(spec.unit))  # type: ignore[arg-type]
            elif row == baseline_row:
                label = _fmt(baseline, plain(spec.unit))  # type: ignore[arg-type]
            parts: list[tuple[str, str] | str] = [(f"{label:>{GUTTER - 1}}┤", "$text-muted")]
            for column in range(plot_width):
                parts.append(self._cell(peaks[column], gaps[column], marker[column], row, row_bottom, top, rows,
                                        rollback_row, warn_row, baseline_row))
            lines.append(Content.assemble(*parts))
        if show_axis:
            lines.append(self._axis(plot_width))
        return Content("\n").join(lines)

    @staticmethod
    def _row_of(line: float | None, top: float, rows: int) -> int | None:
        if line is None:
            return None
        return min(rows - 1, max(0, int(line / top * rows)))

    def _cell(self, peak, gap, marker, row, row_bottom, top, rows, rollback_row, warn_row, baseline_row) -> tuple[str, str]:
        spec = self.health.spec
        if peak is not None:
            eighths = round((peak - row_bottom) / (top / rows) * 8)
            if eighths > 0:
                if spec.rollback_above is not None and peak > spec.rollback_above:
                    style = "$error"
                elif spec.warn_above is not None and peak > spec.warn_above:
                    style = "$warning"
                else:
                    style = "$primary"
                return BLOCKS[min(8, eighths)], style
        if gap and row == 0:
            return "?", "$warning bold"  # no data: drawn as a mark, never as a low value
        if marker:
            return "│", "$accent"
        if row == rollback_row:
            return "─", "$error"
        if row == warn_row:
            return "─", "$warning"
        if row == baseline_row:
            return "┄", "$success"
        return " ", ""

    def _axis(self, plot_width: int) -> Content:
        assert self.window_start is not None
        start = datetime.fromtimestamp(self.window_start).strftime("%H:%M")
        end = datetime.fromtimestamp(self.window_start + self.window_span).strftime("%H:%M")
        middle = plot_width - len(start) - len(end)
        axis = start + "─" * max(1, middle) + end
        return Content.styled(" " * GUTTER + axis[:plot_width], "$text-muted")
