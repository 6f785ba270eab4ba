"""Past releases, read from the journals: version, type, outcome, captain, when, how long."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from shipdeck.core.durations import format_duration
from shipdeck.core.journal import Journal
from shipdeck.core.machine import fold, phase_of
from shipdeck.core.model import Phase
from shipdeck.core.sanitize import plain
from shipdeck.tui.messages import HistoryLoaded
from shipdeck.tui.status_marks import phase_style

COLUMNS = ("version", "type", "outcome", "captain", "started", "took", "rollback")
OUTCOME_MARKS = {
    Phase.DONE: "✓ released",
    Phase.ROLLED_BACK: "⟲ rolled back",
    Phase.FAILED: "✗ failed",
    Phase.ABORTED: "✗ aborted",
    Phase.ROLLBACK_FAILED: "✗ rollback failed",
}


def history_rows(paths: list[Path]) -> list[tuple[str, ...]]:
    """One row per journal, newest first. Blocking: call from a thread."""
    rows = []
    for path in reversed(paths):
        try:
            state = fold(Journal(path).load(repair=False))
        except (OSError, ValueError, KeyError) as error:
            rows.append((path.stem, "?", f"unreadable: {error}", "", "", "", ""))
            continue
        if not state.started:
            continue
        phase = phase_of(state)
        started = datetime.fromtimestamp(state.started_at).strftime("%Y-%m-%d %H:%M") if state.started_at else "?"
        took = format_duration((state.updated_at or 0) - (state.started_at or 0)) if state.started_at else ""
        rollback = f"to {state.rollback.target}: {state.rollback.reason}" if state.rollback else ""
        rows.append((state.tag, state.release_type.value, OUTCOME_MARKS.get(phase, f"… {phase.value}"), state.captain, started, took, rollback))
    return rows


class HistoryScreen(Screen[None]):
    BINDINGS = [Binding("escape,h,q", "close", "Back")]

    def __init__(self, journals: Callable[[], list[Path]]) -> None:
        super().__init__(id="history")
        self.journals = journals

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Release history (from the journals)", "bold"), id="history-title")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def _load(self) -> None:
        try:
            self.post_message(HistoryLoaded(history_rows(self.journals())))
        except OSError as error:
            self.post_message(HistoryLoaded([], f"could not read the journals: {error}"))

    @on(HistoryLoaded)
    def _loaded(self, message: HistoryLoaded) -> None:
        table = self.query_one(DataTable)
        if message.problem or not message.rows:
            self.query_one("#history-title", Static).update(
                Content.styled(plain(message.problem or "No releases journaled yet."), "$warning")
            )
        for row in message.rows:
            # DataTable parses plain strings as markup; Text cells are shown as they are.
            cells = [Text(plain(cell)) for cell in row]
            cells[2].stylize("bold")
            table.add_row(*cells)

    def action_close(self) -> None:
        self.dismiss(None)
