"""The contract every release store passes (files today; S3 or DynamoDB later as one class).

Add an implementation by adding a factory to STORES: it gets a fresh, empty store and a way
to open a second handle on the same records (another process, another bastion host).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from shipdeck.core.events import EventKind
from shipdeck.core.lock import LockHeld
from shipdeck.core.store import FileStore, ReleaseStore, SequenceConflict

Factory = Callable[[Path], tuple[ReleaseStore, Callable[[], ReleaseStore]]]


def _file_store(tmp_path: Path) -> tuple[ReleaseStore, Callable[[], ReleaseStore]]:
    root = tmp_path / "state" / "product-0123456789" / "production"
    return FileStore(root), lambda: FileStore(root)


STORES: dict[str, Factory] = {"file": _file_store}


@pytest.fixture(params=list(STORES))
def stores(request, tmp_path: Path) -> tuple[ReleaseStore, Callable[[], ReleaseStore]]:
    return STORES[request.param](tmp_path)


def _note(store: ReleaseStore, release_id: str, seq: int, text: str = "x"):
    return store.append(release_id, seq, EventKind.NOTE, {"message": text}, 1000.0 + seq)


def test_append_takes_the_expected_sequence_number_and_refuses_any_other(stores) -> None:
    store, _ = stores
    assert [_note(store, "r1", seq).seq for seq in (1, 2, 3)] == [1, 2, 3]
    for wrong in (3, 5, 0):
        with pytest.raises(SequenceConflict):
            _note(store, "r1", wrong)
    assert [e.seq for e in store.read_after("r1")] == [1, 2, 3]  # a refused append wrote nothing


def test_read_after_a_sequence_number(stores) -> None:
    store, _ = stores
    for seq in range(1, 6):
        _note(store, "r1", seq, f"event {seq}")
    assert [e.data["message"] for e in store.read_after("r1", 3)] == ["event 4", "event 5"]
    assert store.read_after("r1", 5) == []
    assert store.read_after("never-started", 0) == []
    event = store.read_after("r1", 0)[0]
    assert event.kind is EventKind.NOTE and event.at == 1001.0


def test_another_handle_sees_the_appends_and_cannot_write_over_them(stores) -> None:
    first, open_again = stores
    _note(first, "r1", 1)
    second = open_again()
    assert [e.seq for e in second.read_after("r1")] == [1]
    _note(second, "r1", 2)
    with pytest.raises(SequenceConflict) as conflict:
        _note(first, "r1", 2)  # `first` last wrote 1; 2 is taken now
    assert conflict.value.actual == 3
    _note(first, "r1", 3)
    assert [e.seq for e in open_again().read_after("r1")] == [1, 2, 3]


def test_releases_are_listed_oldest_first_and_a_new_id_sorts_last(stores) -> None:
    store, _ = stores
    assert store.release_ids() == []
    first = store.next_release_id(1_800_000_000.0, "v1.4.0")
    _note(store, first, 1)
    second = store.next_release_id(1_800_000_000.0, "v1.4.0-rollback")  # the same second
    _note(store, second, 1)
    assert store.release_ids() == [first, second]
    assert second > first


def test_the_lease_names_its_holder_and_each_holder_gets_a_new_epoch(stores) -> None:
    store, open_again = stores
    assert store.lease_holder() is None
    lease = store.lease("alice", command="release")
    assert lease.holder is not None and lease.holder.user == "alice" and lease.holder.epoch == 1
    holder = open_again().lease_holder()
    assert holder is not None and holder.user == "alice" and holder.epoch == 1
    with pytest.raises(LockHeld) as held:
        open_again().lease("bob")
    assert held.value.holder is not None and held.value.holder.user == "alice"
    lease.release()
    assert store.lease_holder() is None
    again = open_again().lease("bob")
    assert again.holder is not None and again.holder.epoch == 2 and again.previous is None
    again.release()


def test_the_inbox_keeps_commands_until_answered_and_the_answer_is_read_once(stores) -> None:
    store, open_again = stores
    assert store.pending_commands() == []
    first = store.post_command({"verb": "approve", "by": "alice"})
    second = open_again().post_command({"verb": "rollback", "by": "bob"})
    pending = open_again().pending_commands()
    assert [request for request, _ in pending] == [first, second]
    assert pending[0][1] == {"verb": "approve", "by": "alice"}
    assert store.command_answer(first) is None
    open_again().answer_command(first, True, "accepted")
    assert [request for request, _ in store.pending_commands()] == [second]
    assert store.command_answer(first) == {"ok": True, "message": "accepted"}
    assert store.command_answer(first) is None


def test_artifacts_are_kept_per_release(stores) -> None:
    store, open_again = stores
    assert store.read_artifact("r1", "notes.md") is None
    store.write_artifact("r1", "notes.md", "# v1.4.0\n✨ New Features\n")
    store.write_artifact("r1", "notes.md", "# v1.4.0\nrewritten\n")
    assert open_again().read_artifact("r1", "notes.md") == "# v1.4.0\nrewritten\n"
    assert open_again().read_artifact("r2", "notes.md") is None
    assert store.release_ids() == []  # an artifact is not a release
    with pytest.raises(ValueError):
        store.write_artifact("r1", "../escape", "x")
