"""One captain at a time, between real processes: refused with the holder named, taken over when it dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipdeck.core.lock import LockHeld, ReleaseLock, current_holder

HOLD_LOCK = """
import sys, time
from pathlib import Path
from shipdeck.core.lock import ReleaseLock

ReleaseLock(Path(sys.argv[1]), sys.argv[2], command="release").acquire()
print("ready", flush=True)
time.sleep(120)
"""

TRY_LOCK = """
import sys
from pathlib import Path
from shipdeck.core.lock import LockHeld, ReleaseLock

try:
    ReleaseLock(Path(sys.argv[1]), sys.argv[2]).acquire()
except LockHeld as error:
    print(error)
    sys.exit(4)
print("acquired")
"""


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def _hold_in_child(processes: list[subprocess.Popen[str]], path: Path, user: str) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), user], stdout=subprocess.PIPE, text=True)
    processes.append(child)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", "the child never took the lock"
    return child


def test_a_second_process_is_refused_with_the_holder_named_and_takes_over_after_sigkill(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "state" / "product" / "production" / "lock"
    child = _hold_in_child(processes, path, "alice")

    with pytest.raises(LockHeld) as refused:
        ReleaseLock(path, "bob", command="release").acquire()
    message = str(refused.value)
    assert f"alice@{socket.gethostname()}" in message
    assert f"pid {child.pid}" in message
    assert str(path) in message
    assert refused.value.holder is not None
    assert (refused.value.holder.user, refused.value.holder.pid, refused.value.holder.command) == ("alice", child.pid, "release")

    holder = current_holder(path)
    assert holder is not None and (holder.user, holder.pid) == ("alice", child.pid)

    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL

    lock = ReleaseLock(path, "bob", command="resume")
    try:
        taken = lock.acquire()
        assert (taken.user, taken.pid, taken.command) == ("bob", os.getpid(), "resume")
        assert lock.previous is not None
        assert (lock.previous.user, lock.previous.pid) == ("alice", child.pid)
        now = current_holder(path)
        assert now is not None and (now.user, now.pid) == ("bob", os.getpid())
    finally:
        lock.release()
    assert current_holder(path) is None


def test_a_lock_held_here_refuses_another_process_by_name(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with ReleaseLock(path, "carol"):
        refused = subprocess.run([sys.executable, "-c", TRY_LOCK, str(path), "dave"], capture_output=True, text=True, timeout=30)
        assert refused.returncode == 4, refused.stderr
        assert f"carol@{socket.gethostname()} (pid {os.getpid()}" in refused.stdout

    freed = subprocess.run([sys.executable, "-c", TRY_LOCK, str(path), "dave"], capture_output=True, text=True, timeout=30)
    assert (freed.returncode, freed.stdout.strip()) == (0, "acquired"), freed.stderr


def test_release_frees_the_lock_and_leaves_no_previous_holder(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    first = ReleaseLock(path, "alice")
    first.acquire()
    with pytest.raises(LockHeld):
        ReleaseLock(path, "bob").acquire()  # a second open file in the same process is refused too

    first.release()
    first.release()  # a second release is harmless
    assert current_holder(path) is None

    second = ReleaseLock(path, "bob")
    second.acquire()
    try:
        assert second.previous is None  # a clean release is not a takeover
    finally:
        second.release()


def test_current_holder_of_a_lock_never_taken_is_none(tmp_path: Path) -> None:
    assert current_holder(tmp_path / "missing") is None
    assert not (tmp_path / "missing").exists()


def test_an_unreadable_holder_record_still_refuses(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with ReleaseLock(path, "alice"):
        path.write_text("garbage", encoding="utf-8")
        with pytest.raises(LockHeld) as refused:
            ReleaseLock(path, "bob").acquire()
    assert refused.value.holder is None
    assert "holder unknown" in str(refused.value)
