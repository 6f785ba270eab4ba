"""Where releases live on disk: journals, the lock, the inbox for commands from other terminals.

    <state dir>/<repository key>/<environment>/
        lock                       who is captain right now
        releases/<id>.jsonl        one journal per release (id sorts by start time)
        releases/<id>.notes.md     the drafted release notes
        inbox/                     commands from `shipdeck approve` / `rollback` in other terminals
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .events import Event
from .journal import Journal
from .machine import fold, is_terminal
from .model import Release


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

    def latest(self) -> tuple[Journal, list[Event], Release] | None:
        paths = self.journals()
        return self.load(paths[-1]) if paths else None

    def load(self, path: Path, repair: bool = False) -> tuple[Journal, list[Event], Release]:
        journal = Journal(path)
        events = journal.load(repair=repair)
        return journal, events, fold(events)

    def active(self, repair: bool = False) -> tuple[Journal, list[Event], Release] | None:
        """The newest release that is not over, if any. `repair` only under the lock."""
        for path in reversed(self.journals()):
            journal, events, state = self.load(path, repair=repair)
            if state.started and not is_terminal(state):
                return journal, events, state
            return None  # only the newest can be active: an older unfinished one was superseded
        return None


def store_for(config: Config, repo_path: Path, environment: str) -> Store:
    """The store of one repository and environment, under the configured state folder."""
    state_dir = Path(config.project.state_dir).expanduser() if config.project.state_dir else default_state_dir()
    if not state_dir.is_absolute():
        state_dir = config.path.parent / state_dir
    return Store.for_repo(state_dir, repo_path, config.project.name, environment)
