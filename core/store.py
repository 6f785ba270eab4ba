"""One way into the release records: `ReleaseStore`, and the file store that implements it.

A store holds the records of one repository and environment: journals (append with the
expected sequence number, read after a sequence number), the list of releases, the lease
(lock with holder and epoch), the inbox of commands from other terminals, and artifacts
(the drafted notes). A shared store (S3 conditional writes, DynamoDB) is one more class
passing tests/test_store_contract.py. The file store's layout:

    <state dir>/<repository key>/<environment>/
        lock                       who is captain right now (and the last epoch)
        releases/<id>.jsonl        one journal per release (id sorts by start time)
        releases/<id>.<name>       artifacts, e.g. <id>.notes.md, the drafted release notes
        inbox/                     commands from `shipdeck approve` / `rollback` in other terminals
        runner/                    the runner process's socket and log (0700)
"""

from __future__ import annotations

import calendar
import getpass
import hashlib
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol

from .config import Config
from .events import Event, EventKind
from .journal import Journal, SequenceConflict
from .lock import Holder, ReleaseLock, current_holder
from .machine import fold, is_terminal
from .model import Release

__all__ = ["FileStore", "NoActiveRelease", "ReleaseInProgress", "ReleaseStore", "SequenceConflict", "Store", "store_for"]

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


class Lease(Protocol):
    """A held lease: who holds it (with its epoch) and the dead holder it replaced, if any."""

    holder: Holder | None
    previous: Holder | None

    def release(self) -> None: ...


class ReleaseStore(Protocol):
    """The records of one repository and environment. Every implementation passes
    tests/test_store_contract.py; only the lease holder appends."""

    def release_ids(self) -> list[str]:
        """Every release that has a journal, oldest first."""
        ...

    def next_release_id(self, at: float, name: str) -> str:
        """A new release's id, sorting after every existing one."""
        ...

    def append(self, release_id: str, expected_seq: int, kind: EventKind, data: Mapping[str, Any], at: float) -> Event:
        """Durably append one event as sequence `expected_seq`; SequenceConflict when that is not next."""
        ...

    def read_after(self, release_id: str, after: int = 0) -> list[Event]:
        """The release's events with a sequence number above `after` (none for an unknown release)."""
        ...

    def lease(self, user: str, command: str = "") -> Lease:
        """Take the lease (raises LockHeld naming the holder); the holder's epoch is one more than the last."""
        ...

    def lease_holder(self) -> Holder | None:
        """Who holds the lease now; None when nobody (alive) does."""
        ...

    def post_command(self, command: Mapping[str, Any]) -> str:
        """Leave a command for the lease holder; returns its request id."""
        ...

    def pending_commands(self) -> list[tuple[str, dict[str, Any] | None]]:
        """Commands waiting, oldest first; None for one that cannot be read."""
        ...

    def answer_command(self, request_id: str, ok: bool, message: str) -> None:
        """Answer a command and take it out of the inbox."""
        ...

    def command_answer(self, request_id: str) -> dict[str, Any] | None:
        """The answer to a command once there is one (read once: it is then removed)."""
        ...

    def write_artifact(self, release_id: str, name: str, text: str) -> None:
        """Keep a text artifact of a release (e.g. "notes.md")."""
        ...

    def read_artifact(self, release_id: str, name: str) -> str | None:
        """A release's artifact, or None when there is none."""
        ...


@dataclass(frozen=True)
class FileStore:
    """The embedded store: files under one folder, durable with fsync, one writer by flock."""

    root: Path  # <state dir>/<repository key>/<environment>
    _journals: dict[str, Journal] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def for_repo(cls, state_dir: Path, repo_path: Path, project_name: str, environment: str) -> FileStore:
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
        return self.artifact_path(release_id, "notes.md")

    def journals(self) -> list[Path]:
        if not self.releases_dir.exists():
            return []
        return sorted(self.releases_dir.glob("*.jsonl"))

    # -- the ReleaseStore interface --------------------------------------------------------

    def release_ids(self) -> list[str]:
        return [path.name.removesuffix(".jsonl") for path in self.journals()]

    def journal(self, release_id: str) -> Journal:
        """The writer's handle on a release's journal (loaded; torn tail cut, so only under the lease)."""
        journal = self._journals.get(release_id)
        if journal is None:
            journal = Journal(self.journal_path(release_id))
            journal.load(repair=True)
            self._journals[release_id] = journal
        return journal

    def append(self, release_id: str, expected_seq: int, kind: EventKind, data: Mapping[str, Any], at: float) -> Event:
        return self.journal(release_id).append(kind, dict(data), at, expected_seq=expected_seq)

    def read_after(self, release_id: str, after: int = 0) -> list[Event]:
        return [event for event in Journal(self.journal_path(release_id)).load(repair=False) if event.seq > after]

    def lease(self, user: str, command: str = "") -> ReleaseLock:
        lock = ReleaseLock(self.lock_path, user, command=command)
        lock.acquire()
        return lock

    def lease_holder(self) -> Holder | None:
        return current_holder(self.lock_path)

    def post_command(self, command: Mapping[str, Any]) -> str:
        self.inbox.mkdir(parents=True, exist_ok=True)
        request_id = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"
        temporary = self.inbox / f"{request_id}.tmp"
        temporary.write_text(json.dumps(dict(command)), encoding="utf-8")
        temporary.rename(self.inbox / f"{request_id}.json")  # atomic: never read half-written
        return request_id

    def pending_commands(self) -> list[tuple[str, dict[str, Any] | None]]:
        if not self.inbox.exists():
            return []
        pending: list[tuple[str, dict[str, Any] | None]] = []
        for path in sorted(self.inbox.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            pending.append((path.stem, data if isinstance(data, dict) else None))
        return pending

    def answer_command(self, request_id: str, ok: bool, message: str) -> None:
        request = self.inbox / f"{request_id}.json"
        request.with_suffix(".result").write_text(json.dumps({"ok": ok, "message": message}), encoding="utf-8")
        request.unlink(missing_ok=True)

    def command_answer(self, request_id: str) -> dict[str, Any] | None:
        answer_path = self.inbox / f"{request_id}.result"
        try:
            answer = json.loads(answer_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            answer = {"ok": False, "message": f"unreadable answer in {answer_path}"}
        answer_path.unlink(missing_ok=True)
        return answer if isinstance(answer, dict) else {"ok": False, "message": "malformed answer"}

    def write_artifact(self, release_id: str, name: str, text: str) -> None:
        path = self.artifact_path(release_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)

    def read_artifact(self, release_id: str, name: str) -> str | None:
        try:
            return self.artifact_path(release_id, name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def artifact_path(self, release_id: str, name: str) -> Path:
        if "/" in name or name.startswith(".") or name.endswith("jsonl"):
            raise ValueError(f"artifact name {name!r}: a plain file suffix like 'notes.md' is expected")
        return self.releases_dir / f"{release_id}.{name}"

    # -- file-store specifics -----------------------------------------------------------------

    def latest(self) -> tuple[Journal, list[Event], Release] | None:
        """The newest journal that started (one killed before its first line never did)."""
        return self._newest_started()

    def load(self, path: Path, repair: bool = False) -> tuple[Journal, list[Event], Release]:
        """A journal with its events and state; with `repair` (the lease holder) it is the writer's handle."""
        journal = self.journal(path.name.removesuffix(".jsonl")) if repair else Journal(path)
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


Store = FileStore  # the name the rest of shipdeck has used for the file store


def store_for(config: Config, repo_path: Path, environment: str) -> FileStore:
    """The store of one repository and environment, under the configured state folder."""
    state_dir = Path(config.project.state_dir).expanduser() if config.project.state_dir else default_state_dir()
    if not state_dir.is_absolute():
        state_dir = config.path.parent / state_dir
    return Store.for_repo(state_dir, repo_path, config.project.name, environment)
