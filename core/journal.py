"""The append-only JSONL journal of one release.

One event per line: `{"seq", "at", "kind", "data", "sum"}` where `sum` is a checksum of the
rest of the line. A line is written and fsynced before anything acts on its event. A last
line without its newline is a write the process never finished (it was never acted on): it
is cut on load. A checksum mismatch anywhere else is corruption and is reported by line.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from .events import Event, EventKind


class JournalCorrupt(Exception):
    """A complete journal line that does not verify; never silently dropped."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}; the journal was not changed. Move the file aside to start over.")
        self.path = path
        self.line = line


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def encode(event: Event) -> bytes:
    body = json.dumps(event.to_record(), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    record = body[:-1] + f',"sum":"{_checksum(body)}"}}'
    return (record + "\n").encode("utf-8")


def decode(line: bytes, path: Path, number: int) -> Event:
    try:
        text = line.decode("utf-8")
        record: dict[str, Any] = json.loads(text)
        claimed = record.pop("sum")
    except (UnicodeDecodeError, ValueError, KeyError, AttributeError, TypeError) as error:
        raise JournalCorrupt(path, number, f"unreadable record ({error.__class__.__name__})") from None
    body = json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if _checksum(body) != claimed:
        raise JournalCorrupt(path, number, "checksum mismatch")
    try:
        return Event.from_record(record)
    except (KeyError, ValueError, TypeError) as error:
        raise JournalCorrupt(path, number, f"unknown record shape ({error})") from None


class SequenceConflict(Exception):
    """An append expected a different next sequence number: someone else wrote meanwhile."""

    def __init__(self, path: Path, expected: int, actual: int) -> None:
        super().__init__(
            f"{path}: expected to write sequence {expected} but the journal is at {actual}; another process "
            "wrote to this release. Only the lock holder writes: check `shipdeck status`"
        )
        self.expected = expected
        self.actual = actual


class Journal:
    """Appends events durably and reads them back.

    Args:
        path: the release's `.jsonl` file; created with its parent folders on first append.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: Any = None
        self.next_seq = 1
        self.truncated_bytes = 0  # how much of a torn tail the last load cut
        self._known_size = -1  # the file's size as of our last load or write

    def load(self, repair: bool = True) -> list[Event]:
        """Read every event; raise JournalCorrupt on a bad complete line.

        A torn last line is ignored, and cut from the file when `repair` is set; only the
        lock holder repairs, since a reader may see another process in mid-write.
        """
        if not self.path.exists():
            self.next_seq = 1
            self._known_size = 0
            return []
        raw = self.path.read_bytes()
        events: list[Event] = []
        keep = len(raw)
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1  # everything after the last newline is a torn write
        for number, line in enumerate(raw[:keep].splitlines(), start=1):
            if not line.strip():
                continue
            event = decode(line, self.path, number)
            if not events and event.seq != 1:
                # A journal that does not start at 1 lost its beginning (or was spliced).
                raise JournalCorrupt(self.path, number, f"the first sequence number is {event.seq}, expected 1")
            expected = events[-1].seq + 1 if events else 1
            if event.seq != expected:
                raise JournalCorrupt(self.path, number, f"sequence {event.seq} follows {expected - 1}")
            events.append(event)
        if keep != len(raw) and repair:
            self.truncated_bytes = len(raw) - keep
            with open(self.path, "r+b") as handle:
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())
        self.next_seq = events[-1].seq + 1 if events else 1
        self._known_size = keep if repair else len(raw)
        return events

    def append(self, kind: EventKind, data: dict[str, Any], at: float, expected_seq: int | None = None) -> Event:
        """Write one event and fsync it; only then does the caller act on it.

        With `expected_seq`, the write happens only if it would get that sequence number, also
        after another process appended (seen by the file's size): else SequenceConflict.
        """
        if expected_seq is not None:
            self._catch_up()
            if expected_seq != self.next_seq:
                raise SequenceConflict(self.path, expected_seq, self.next_seq)
        event = Event(kind=kind, data=data, at=at, seq=self.next_seq)
        if self._file is None:
            self._file = _open_durably(self.path)
        line = encode(event)
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.next_seq += 1
        if self._known_size >= 0:
            self._known_size += len(line)
        return event

    def _catch_up(self) -> None:
        """Reload when the file changed size since we last saw it (another writer)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size != max(self._known_size, 0) or self._known_size < 0:
            self.load(repair=False)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_dirs_durably(folder: Path) -> None:
    """Create `folder` and its missing parents so that a crash cannot lose any of them.

    A new directory entry is durable only once its parent directory is fsynced.
    """
    missing: list[Path] = []
    current = Path(folder)
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            pass  # another process made it meanwhile; its parent entry is theirs to sync
        _fsync_dir(path.parent)


def _open_durably(path: Path) -> Any:
    """Open a journal for appending; a newly created file is made durable in its folder."""
    make_dirs_durably(path.parent)
    created = not path.exists()
    handle = open(path, "ab")
    if created:
        # The first event is fsynced with the file, but the file's name lives in the folder:
        # without this a crash could lose the whole journal of a release that acted.
        _fsync_dir(path.parent)
    return handle


def iter_journals(state_dir: Path) -> Iterator[Path]:
    """Every release journal under a state directory, oldest first."""
    if not state_dir.exists():
        return iter(())
    return iter(sorted(state_dir.glob("**/releases/*.jsonl"), key=lambda p: p.name))
