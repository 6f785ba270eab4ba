"""The drafted release notes, shown literally (commit subjects are untrusted text)."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from shipdeck.core.sanitize import plain
from shipdeck.tui.messages import NotesLoaded


class NotesPreviewScreen(Screen[None]):
    BINDINGS = [Binding("escape,n,q", "close", "Back")]

    def __init__(self, notes_path: Path | None) -> None:
        super().__init__(id="notes-preview")
        self.notes_path = notes_path

    def compose(self) -> ComposeResult:
        yield Static(Content.styled(f"Release notes  {plain(self.notes_path.name if self.notes_path else '')}", "bold"), id="notes-title")
        with VerticalScroll(id="notes-scroll"):
            yield Static(Content.styled("reading the notes…", "$text-muted"), id="notes-text")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="notes")
    def _load(self) -> None:
        """File I/O off the event loop; the text comes back as a message."""
        path = self.notes_path
        if path is None or not path.exists():
            self.post_message(NotesLoaded("", "The notes are drafted by the “Release notes drafted” step; not yet."))
            return
        try:
            self.post_message(NotesLoaded(path.read_text(encoding="utf-8", errors="replace")))
        except OSError as error:
            self.post_message(NotesLoaded("", f"could not read {path}: {error}"))

    @on(NotesLoaded)
    def _loaded(self, message: NotesLoaded) -> None:
        target = self.query_one("#notes-text", Static)
        if message.problem:
            target.update(Content.styled(plain(message.problem), "$warning"))
            return
        lines = []
        for line in plain(message.markdown, keep_newlines=True).replace("\t", "    ").splitlines():
            # Headings stand out; everything else is literal text, never markup or Markdown.
            lines.append(Content.styled(line, "bold $accent") if line.startswith("#") else Content(line))
        target.update(Content("\n").join(lines))

    def action_close(self) -> None:
        self.dismiss(None)
