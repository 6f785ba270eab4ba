"""The two header lines: what is being released where, the phase, elapsed time, window, lock."""

from __future__ import annotations

from textual.content import Content

from shipdeck.core.durations import format_duration
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain

from ..cockpit_info import CockpitInfo
from ..status_marks import phase_style
from .repaint import ChangedCells


class ReleaseHeader(ChangedCells):
    """Attributes down: the screen sets `state`; a chained one-second timer keeps elapsed fresh.

    Each tick repaints only the cells that changed (the elapsed clock), never both lines.
    """

    DEFAULT_CSS = """
    ReleaseHeader { height: 2; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, info: CockpitInfo, state: Release, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.info = info
        self.state = state
        self._now = info.now()  # read once per repaint: render() must draw what was compared

    def on_mount(self) -> None:
        self._tick()

    def _tick(self) -> None:
        self._now = self.info.now()
        self.repaint_changed()
        # Chained rather than set_interval: a slow frame never queues up ticks behind it.
        self.set_timer(1.0, self._tick)

    def update_state(self, state: Release) -> None:
        self.state = state
        self._now = self.info.now()
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
        elapsed = format_duration(now - state.started_at) if state.started_at else "—"
        first = Content.assemble(
            ("REHEARSAL " if state.rehearsal else "", "$warning bold"),
            (plain(state.tag or "no release"), "$primary bold"),
            " ",
            (plain(state.release_type.value), "$foreground"),
            " → ",
            (plain(state.environment), "bold"),
            "  phase ",
            (phase.value.replace("_", " ").upper(), phase_style(phase)),
            "  elapsed ",
            (elapsed, "bold"),
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
        return Content("\n").join([first, second])
