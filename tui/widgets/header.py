"""The two header lines: what is being released where, the phase, elapsed time, window, lock."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content

from shipdeck.core.durations import format_duration
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain

from ..cockpit_info import CockpitInfo
from ..status_marks import phase_style
from .repaint import ChangedCells


CLOCK_WIDTH = 15  # "elapsed 999h59m"


class HeaderClock(ChangedCells):
    """The elapsed time, its own widget at the right of the header's first line.

    Textual writes a changed span from the left edge of its widget, so a clock inside the
    header line would resend the whole line every second; on its own it sends a few cells.
    """

    DEFAULT_CSS = f"""
    HeaderClock {{ dock: right; width: {CLOCK_WIDTH}; height: 1; text-align: right; }}
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.elapsed = "—"

    def show(self, elapsed: str) -> None:
        self.elapsed = elapsed
        self.repaint_changed()

    def render(self) -> Content:
        return Content.assemble("elapsed ", (self.elapsed, "bold"))


class ReleaseHeader(ChangedCells):
    """Attributes down: the screen sets `state`; a chained one-second timer keeps elapsed fresh.

    Each tick repaints only the cells that changed: the clock (`HeaderClock`), and the window
    line when its text changes.
    """

    DEFAULT_CSS = """
    ReleaseHeader { height: 2; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, info: CockpitInfo, state: Release, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info
        self.state = state
        self._now = info.now()  # read once per repaint: render() must draw what was compared
        self.clock = HeaderClock(id="header-clock")

    def compose(self) -> ComposeResult:
        yield self.clock

    def on_mount(self) -> None:
        self._tick()

    def _tick(self) -> None:
        self._repaint()
        # Chained rather than set_interval: a slow frame never queues up ticks behind it.
        self.set_timer(1.0, self._tick)

    def update_state(self, state: Release) -> None:
        self.state = state
        self._repaint()

    def _repaint(self) -> None:
        self._now = self.info.now()
        started = self.state.started_at
        self.clock.show(format_duration(self._now - started) if started else "—")
        self.repaint_changed()

    @staticmethod
    def _budget(state: Release) -> tuple[tuple[str, str], ...]:
        """The metrics source's rate-limit budget, only when it runs low (polls are stretching)."""
        if state.metrics_budget is None:
            return ()
        remaining, limit, reset_in = state.metrics_budget
        return (("  metrics budget ", ""), (f"{remaining}/{limit}, resets in {reset_in:.0f}s", "$warning bold"))

    def render(self) -> Content:
        state, info = self.state, self.info
        now = self._now
        phase = phase_of(state)
        first = Content.assemble(
            ("REHEARSAL " if state.rehearsal else "", "$warning bold"),
            (plain(state.tag or "no release"), "$primary bold"),
            " ",
            (plain(state.release_type.value), "$foreground"),
            " → ",
            (plain(state.environment), "bold"),
            "  phase ",
            (phase.value.replace("_", " ").upper(), phase_style(phase)),
            "  prod ",
            (plain(state.production_version or "unknown"), "$accent" if state.production_runs_new_version else ""),
        )
        inside, window_text = info.window_status(now)
        window_mark = ("✓ ", "$success") if inside else ("✗ OUTSIDE ", "$error bold")
        second = Content.assemble(
            "window ",
            window_mark,
            (plain(window_text), "$text-muted"),
            "  lock ",
            (plain(info.lock_holder or info.identity), "$text-muted"),
            *self._budget(state),
        )
        # The clock covers the end of the first line: an ellipsis, not text cut under it.
        first = first.truncate(max(1, self.size.width - CLOCK_WIDTH - 1), ellipsis=True)
        return Content("\n").join([first, second])
