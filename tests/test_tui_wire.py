"""A steady watch repaints only what changed: what the cockpit would write to the terminal per tick.

The cockpit runs as a real App (run_test, 80×24). Every update Textual would send to the
terminal is captured where the app hands it to the driver, and rendered to the exact bytes a
terminal would receive. One steady tick (the clock moves a second, a sample arrives for each
chart) may write the header's clock, the running step's row and the new chart cells, not
whole widgets.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.content import Content
from textual.geometry import Region

from shipdeck.core.events import Event, EventKind
from shipdeck.core.machine import fold
from shipdeck.tui.messages import ReleaseEventArrived
from shipdeck.tui.widgets.checklist import Checklist
from shipdeck.tui.widgets.repaint import changed_regions
from shipdeck.tui.widgets.step_summary import StepSummary

from tui_fixtures import FrozenLink, frozen_app, utc, watching  # noqa: F401 - utc is an autouse fixture

pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin

CHART_SETTLE = 1.3  # a chart redraws at most once a second (its own throttle)


class Captured:
    """What the app would have written: (spans of (y, x1, x2), bytes) per update."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.updates: list[tuple[list[tuple[int, int, int]], bytes]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            if renderable is not None and hasattr(renderable, "render_segments"):
                spans = list(getattr(renderable, "spans", [(y, 0, screen.size.width) for y in range(screen.size.height)]))
                self.updates.append((spans, renderable.render_segments(app.console).encode("utf-8")))
            original(screen, renderable)

        app._display = display  # type: ignore[method-assign]

    def clear(self) -> None:
        self.updates.clear()

    @property
    def bytes(self) -> int:
        return sum(len(data) for _, data in self.updates)

    @property
    def cells(self) -> int:
        return sum(x2 - x1 for spans, _ in self.updates for _, x1, x2 in spans)

    def cells_within(self, region: Region) -> int:
        """Cells written inside `region`."""
        return sum(
            min(x2, region.right) - max(x1, region.x)
            for spans, _ in self.updates
            for y, x1, x2 in spans
            if region.y <= y < region.bottom and x1 < region.right and x2 > region.x
        )

    def rows_within(self, region: Region) -> set[int]:
        """Screen rows written inside `region`."""
        return {
            y
            for spans, _ in self.updates
            for y, x1, x2 in spans
            if region.y <= y < region.bottom and x1 < region.right and x2 > region.x
        }


async def test_a_steady_tick_writes_only_the_clock_the_running_row_and_new_chart_cells():
    script = watching(samples=40)
    clock = [script.at + 5]
    link = FrozenLink(script.events)
    app = frozen_app(script, link=link, now=lambda: clock[0])
    captured = Captured(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(CHART_SETTLE)  # the first frame and the charts' first draw
        events = list(script.events)
        for tick in range(3):
            captured.clear()
            clock[0] += 1
            at = clock[0]
            for name, value in (("error_rate", 0.5), ("p95_latency", 320.0), ("queue_depth", 30.0 + tick)):
                event = Event(EventKind.SAMPLE, {"series": name, "at": at, "value": value}, at=at, seq=len(events) + 1)
                events.append(event)
                app.cockpit.post_message(ReleaseEventArrived(event, fold(events)))
            await pilot.pause(CHART_SETTLE)
            checklist = app.cockpit.query_one(Checklist)
            running_row = checklist.region.y + checklist.get_option_index("watch") - checklist.scroll_offset.y
            # The checklist writes the running step's row, which ticks, and nothing else.
            assert captured.rows_within(checklist.region) == {running_row}, captured.updates
            # ... and of that row only the cells from where its duration's text changed.
            assert captured.cells_within(checklist.region) <= 6, captured.updates
            # Whole widgets repainted would be well over a thousand cells (80×24 is 1920).
            assert captured.cells < 60, captured.updates
            assert captured.bytes < 1000, captured.bytes


async def test_a_tick_with_nothing_changed_writes_nothing():
    script = watching(samples=10)
    app = frozen_app(script)  # the clock never moves
    captured = Captured(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(CHART_SETTLE)
        captured.clear()
        await pilot.pause(2.2)  # two header ticks, a cockpit view update
        app.cockpit._update_views()
        await pilot.pause(CHART_SETTLE)
        assert captured.bytes == 0, captured.updates


async def test_the_step_summary_repaints_only_the_cells_that_changed():
    class One(App[None]):
        def compose(self):
            yield StepSummary(id="summary")

    app = One()
    captured = Captured(app)
    async with app.run_test(size=(40, 3)) as pilot:
        summary = app.query_one(StepSummary)
        summary.show(Content("… Watch metrics — running 4s"))
        await pilot.pause()
        captured.clear()
        summary.show(Content("… Watch metrics — running 5s"))
        await pilot.pause()
        assert captured.cells == 1, captured.updates
        assert captured.rows_within(summary.region) == {0}


def test_changed_regions_spans_the_first_to_the_last_differing_cell():
    from textual.strip import Strip
    from rich.segment import Segment

    old = [Strip([Segment("elapsed 59s")]), Strip([Segment("same")])]
    new = [Strip([Segment("elapsed 1m 0s")]), Strip([Segment("same")])]
    assert changed_regions(old, new, 20) == [Region(8, 0, 5, 1)]
    assert changed_regions(old, old, 20) == []
