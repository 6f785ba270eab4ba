"""Messages from the runner side of the app to the views (past tense, small, immutable)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from shipdeck.core.events import Event
from shipdeck.core.model import Release

from .deploy_history import DeployHistory


@dataclass
class ReleaseEventArrived(Message):
    """The runner journaled `event`; `state` is the release right after it."""

    event: Event
    state: Release


@dataclass
class RunnerFinished(Message):
    """The runner's loop returned (release over, or stopped); `error` when it crashed."""

    state: Release
    error: str = ""


@dataclass
class CommandAnswered(Message):
    """The runner answered a command: `refusal` is None when it was carried out."""

    verb: str
    refusal: str | None


@dataclass
class NotesLoaded(Message):
    """The notes file was read (by a thread worker): its text, or why there is none."""

    markdown: str
    problem: str = ""


@dataclass
class HistoryLoaded(Message):
    """Past releases read from the journals, newest first: one tuple of cells per release."""

    rows: list[tuple[str, ...]]
    problem: str = ""


@dataclass
class DeployHistoryLoaded(Message):
    """Earlier deploys were read from the journals (by a thread worker), for the ETA."""

    history: DeployHistory
