"""Where releases live on disk: journals, the lock, the inbox for commands from other terminals.

    <state dir>/<repository key>/<environment>/
        lock                       who is captain right now
        releases/<id>.jsonl        one journal per release (id sorts by start time)
        releases/<id>.notes.md     the drafted release notes
        inbox/                     commands from `shipdeck approve` / `rollback` in other terminals
"""

from __future__ import annotations

import calendar
import getpass
import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .events import Event
from .journal import Journal
from .machine import fold, is_terminal
from .model import Release

ID_TIME_FORMAT = "%Y%m%dT%H%M%S"


class NoActiveRelease(Exception):
    """There is no release in progress for this repository and environment."""


class ReleaseInProgress(Exception):
    """A different release than the one asked for is already in progress."""


def identity() -> str:
    """Who is acting: SHIPDECK_USER, else the OS user."""
    name = os.environ.get("SHIPDECK_USER", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def default_state_dir() -> Path:
    explicit = os.environ.get("SHIPDECK_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "shipdeck"


def repository_key(repo_path: Path, project_name: str) -> str:
    """Stable per repository: from the remote URL when there is one, so two clones share a lock."""
    try:
        url = subprocess.run(
            ["git", "-C", str(repo_path), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        url = ""
    source = url or str(Path(repo_path).resolve())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", project_name).strip("-") or "project"
    return f"{slug}-{hashlib.sha256(source.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Store:
    root: Path  # <state dir>/<repository key>/<environment>

    @classmethod
    def for_repo(cls, state_dir: Path, repo_path: Path, project_name: str, environment: str) -> Store:
        return cls(Path(state_dir) / repository_key(repo_path, project_name) / environment)

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def journal_path(self, release_id: str) -> Path:
        return self.releases_dir / f"{release_id}.jsonl"

    def notes_path(self, release_id: str) -> Path:
        return self.releases_dir / f"{release_id}.notes.md"

    def journals(self) -> list[Path]:
        if not self.releases_dir.exists():
            return []
        return sorted(self.releases_dir.glob("*.jsonl"))

    def read_after(self, path: Path, after: int) -> list[Event]:
        """The events of the journal at `path` with a sequence number above `after`."""
        return [event for event in Journal(path).load(repair=False) if event.seq > after]

    def latest(self) -> tuple[Journal, list[Event], Release] | None:
        """The newest journal that started (one killed before its first line never did)."""
        return self._newest_started()

    def load(self, path: Path, repair: bool = False) -> tuple[Journal, list[Event], Release]:
        journal = Journal(path)
        events = journal.load(repair=repair)
        return journal, events, fold(events)

    def active(self, repair: bool = False) -> tuple[Journal, list[Event], Release] | None:
        """The newest release that is not over, if any. `repair` only under the lock."""
        newest = self._newest_started(repair=repair)
        if newest is None or is_terminal(newest[2]):
            return None  # only the newest can be active: an older unfinished one was superseded
        return newest

    def _newest_started(self, repair: bool = False) -> tuple[Journal, list[Event], Release] | None:
        for path in reversed(self.journals()):
            journal, events, state = self.load(path, repair=repair)
            if state.started:
                return journal, events, state
        return None

    def unstarted(self) -> list[Path]:
        """Journals with no complete line: a run killed before it journaled anything."""
        return [path for path in self.journals() if not _has_a_complete_line(path)]

    def remove_unstarted(self) -> list[Path]:
        """Delete the journals of runs killed before their first line; only under the lock.

        Such a run never acted (nothing acts before its event is journaled), so nothing is lost.
        """
        removed = self.unstarted()
        for path in removed:
            path.unlink(missing_ok=True)
        return removed

    def next_release_id(self, at: float, name: str) -> str:
        """A new journal's id: `<UTC start time>-<name>`, sorting after every journal there is.

        Ids sort by start time; two journals started in the same second (a rollback right
        after its release) would otherwise sort by name.
        """
        stamp = time.strftime(ID_TIME_FORMAT, time.gmtime(at))
        paths = self.journals()
        newest = paths[-1].name[: len(stamp)] if paths else ""
        if newest >= stamp:
            try:
                latest = calendar.timegm(time.strptime(newest, ID_TIME_FORMAT))
            except ValueError:
                latest = int(at)
            stamp = time.strftime(ID_TIME_FORMAT, time.gmtime(latest + 1))
        return f"{stamp}-{name}"


def _has_a_complete_line(path: Path) -> bool:
    with open(path, "rb") as handle:
        while chunk := handle.read(65536):
            if b"\n" in chunk:
                return True
    return False


def store_for(config: Config, repo_path: Path, environment: str) -> Store:
    """The store of one repository and environment, under the configured state folder."""
    state_dir = Path(config.project.state_dir).expanduser() if config.project.state_dir else default_state_dir()
    if not state_dir.is_absolute():
        state_dir = config.path.parent / state_dir
    return Store.for_repo(state_dir, repo_path, config.project.name, environment)
