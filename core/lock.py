"""One captain at a time: a lock per repository and environment.

The lock is an `flock` on a file that also records who holds it. The kernel drops an flock
when its process dies, however it dies, so a dead holder's lock is simply taken over; the
recorded holder is then reported as the previous one. Every acquisition gets the next epoch
(kept in the file when the lock is let go), so a lease can tell it from every earlier one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Holder:
    user: str
    host: str
    pid: int
    since: float
    command: str = ""
    epoch: int = 0  # 1 for the first holder ever, one more for each that follows

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.since))
        return f"{self.user}@{self.host} (pid {self.pid}, since {started})"


class LockHeld(Exception):
    def __init__(self, path: Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process (holder unknown)"
        super().__init__(
            f"the release lock {path} is held by {who}. Only one captain at a time: ask them, or wait "
            "for them to finish; `shipdeck watch` shows their release read-only."
        )
        self.holder = holder


def _read_record(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_holder(path: Path) -> Holder | None:
    data = _read_record(path)
    if "user" not in data:
        return None  # free: at most the last epoch is recorded
    try:
        return Holder(**data)  # type: ignore[arg-type]
    except TypeError:
        return None


def _last_epoch(path: Path) -> int:
    epoch = _read_record(path).get("epoch", 0)
    return epoch if isinstance(epoch, int) else 0


class ReleaseLock:
    """Hold with `acquire()`; released on `release()` or when the process ends."""

    def __init__(self, path: Path, user: str, command: str = "") -> None:
        self.path = Path(path)
        self.user = user
        self.command = command
        self._fd: int | None = None
        self.previous: Holder | None = None  # a dead holder whose lock was taken over
        self.holder: Holder | None = None

    def acquire(self) -> Holder:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.path, _read_holder(self.path)) from None
        self.previous = _read_holder(self.path)
        holder = Holder(
            user=self.user, host=socket.gethostname(), pid=os.getpid(), since=time.time(), command=self.command,
            epoch=_last_epoch(self.path) + 1,
        )
        _write(fd, holder.__dict__)
        self._fd = fd
        self.holder = holder
        return holder

    def release(self) -> None:
        if self._fd is None:
            return
        _write(self._fd, {"epoch": self.holder.epoch if self.holder else 0})  # free, but the epoch goes on
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> ReleaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write(fd: int, record: dict[str, object]) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    os.fsync(fd)


def current_holder(path: Path) -> Holder | None:
    """Who holds the lock right now (None when nobody does), without taking it."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_holder(path)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
