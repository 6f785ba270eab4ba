"""The journal: durable round trips, torn tails cut at every byte, corruption reported by line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipdeck.core.events import Event, EventKind
from shipdeck.core.journal import Journal, JournalCorrupt, encode

# Raw \r, \x85, \x1c and U+2028 are line breaks to str.splitlines(); the journal must split on
# b"\n" only, so they sit in the payload to catch a switch to text splitting.
AWKWARD_TEXTS = (
    "[@click=app.quit]",
    "[bold red]not markup[/]",
    "\x1b[31mred\x1b[0m",
    "Zoë ✨ 🐛 日本語",
    "line\u2028separator\x85next\x1cfile\rreturn\ntab\t",
    '"quoted" \\ backslash {"sum": "0"}',
)


def _write_events(journal: Journal, count: int, start_at: float = 1000.0) -> list[Event]:
    return [
        journal.append(EventKind.STEP_PROGRESSED, {"step": "deploy", "message": f"task {index} of {count} healthy", "progress": index / count}, at=start_at + index)
        for index in range(count)
    ]


def _journal_file(path: Path, count: int) -> Path:
    """A closed journal at `path` holding `count` progress events."""
    writer = Journal(path)
    _write_events(writer, count)
    writer.close()
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_round_trip_keeps_every_field_and_numbers_sequences_from_one(tmp_path: Path) -> None:
    path = tmp_path / "releases" / "r1.jsonl"
    journal = Journal(path)
    written = [
        journal.append(EventKind.RELEASE_STARTED, {"id": "r1", "tag": "v1.4.0", "plan": [{"id": "cut"}, {"id": "tag"}]}, at=1000.5),
        journal.append(EventKind.SAMPLE, {"series": "error_rate", "at": 1010.0, "value": None}, at=1010.25),
        journal.append(EventKind.STEP_PASSED, {"step": "cut", "summary": "release/2026-11-27 cut", "evidence": {"sha": "abc123"}}, at=1020.0),
    ]
    journal.close()

    assert [event.seq for event in written] == [1, 2, 3]
    reader = Journal(path)
    assert reader.load() == written
    assert reader.next_seq == 4
    assert reader.truncated_bytes == 0
    assert all(line.endswith(b"\n") for line in _lines(path))
    # one JSON object per line, readable with jq: the checksum rides along as "sum"
    assert [json.loads(line)["kind"] for line in _lines(path)] == ["release_started", "sample", "step_passed"]


def test_a_missing_journal_loads_empty_and_starts_at_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "none.jsonl")
    assert journal.load() == []
    assert journal.next_seq == 1
    assert not (tmp_path / "none.jsonl").exists()


def test_append_after_reopen_continues_the_sequence(tmp_path: Path) -> None:
    path = _journal_file(tmp_path / "r1.jsonl", 3)

    second = Journal(path)
    assert len(second.load()) == 3
    appended = second.append(EventKind.NOTE, {"message": "resumed"}, at=2000.0)
    second.close()

    assert appended.seq == 4
    assert [event.seq for event in Journal(path).load()] == [1, 2, 3, 4]


def test_torn_tail_at_every_byte_of_the_last_record_is_cut_and_appends_continue(tmp_path: Path) -> None:
    source = tmp_path / "source.jsonl"
    writer = Journal(source)
    kept = _write_events(writer, 3)
    # multibyte text in the last record, so some cuts land inside a UTF-8 character
    writer.append(EventKind.NOTE, {"message": "Déployé ✨ [@click=app.quit]"}, at=2000.0)
    writer.close()
    *earlier, last_line = _lines(source)
    prefix = b"".join(earlier)
    assert len(last_line) > 40

    path = tmp_path / "torn.jsonl"
    for cut in range(len(last_line)):
        torn = prefix + last_line[:cut]
        path.write_bytes(torn)

        reader = Journal(path)
        assert reader.load(repair=False) == kept, f"cut at byte {cut}"
        assert path.read_bytes() == torn, f"repair=False modified the file (cut at byte {cut})"

        journal = Journal(path)
        assert journal.load(repair=True) == kept, f"cut at byte {cut}"
        assert path.read_bytes() == prefix, f"torn tail not cut back (cut at byte {cut})"
        assert journal.truncated_bytes == cut
        assert journal.next_seq == 4

        resumed = journal.append(EventKind.NOTE, {"message": "after repair"}, at=3000.0)
        journal.close()
        assert resumed.seq == 4
        assert Journal(path).load(repair=False) == [*kept, resumed], f"cut at byte {cut}"


def test_a_torn_only_record_leaves_an_empty_journal(tmp_path: Path) -> None:
    path = tmp_path / "r1.jsonl"
    path.write_bytes(b'{"seq":1,"at":1000')
    journal = Journal(path)
    assert journal.load() == []
    assert path.read_bytes() == b""
    assert journal.append(EventKind.NOTE, {"message": "fresh"}, at=1.0).seq == 1


def _replace_line(path: Path, number: int, new_line: bytes) -> bytes:
    lines = _lines(path)
    lines[number - 1] = new_line
    content = b"".join(lines)
    path.write_bytes(content)
    return content


def test_checksum_mismatch_in_a_middle_line_is_reported_with_its_line_and_nothing_changes(tmp_path: Path) -> None:
    path = _journal_file(tmp_path / "r1.jsonl", 5)
    original = _lines(path)[2]
    tampered = original.replace(b"task 2 of 5", b"task 9 of 5")
    assert tampered != original
    json.loads(tampered)  # still valid JSON: only the checksum can tell
    # a torn tail as well: a corrupt journal must not be "repaired" either
    content = _replace_line(path, 3, tampered) + b'{"seq":6,"at":'
    path.write_bytes(content)

    for repair in (True, False):
        with pytest.raises(JournalCorrupt) as caught:
            Journal(path).load(repair=repair)
        assert caught.value.line == 3
        assert caught.value.path == path
        assert str(caught.value).startswith(f"{path}:3: checksum mismatch")
        assert path.read_bytes() == content


@pytest.mark.parametrize(
    "bad_line",
    [
        pytest.param(b"not json at all\n", id="not-json"),
        pytest.param(b"[1, 2, 3]\n", id="json-array"),
        pytest.param(b'"a string"\n', id="json-string"),
        pytest.param(b'{"seq":2,"at":1.0,"kind":"note","data":{}}\n', id="no-checksum"),
        pytest.param(b'{"seq":2,"at":1.0,"kind":"note","data":{},"sum":"x"}\xff\n', id="not-utf8"),
        pytest.param(encode(Event(EventKind.NOTE, {}, at=None, seq=2)), id="checksummed-but-at-is-null"),  # type: ignore[arg-type]
        pytest.param(encode(Event(EventKind.NOTE, {}, at=1.0, seq=2)).replace(b'"note"', b'"bogus"'), id="unknown-kind"),
    ],
)
def test_an_unreadable_complete_line_is_reported_with_its_line(tmp_path: Path, bad_line: bytes) -> None:
    path = _journal_file(tmp_path / "r1.jsonl", 3)
    content = _replace_line(path, 2, bad_line)

    with pytest.raises(JournalCorrupt) as caught:
        Journal(path).load()
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{path}:2: ")
    assert path.read_bytes() == content


def test_a_sequence_gap_is_reported(tmp_path: Path) -> None:
    path = _journal_file(tmp_path / "r1.jsonl", 4)
    lines = _lines(path)
    path.write_bytes(lines[0] + lines[2] + lines[3])  # seq 2 lost

    with pytest.raises(JournalCorrupt) as caught:
        Journal(path).load()
    assert caught.value.line == 2
    assert "sequence 3 follows 1" in str(caught.value)


def test_a_repeated_sequence_number_is_reported(tmp_path: Path) -> None:
    path = _journal_file(tmp_path / "r1.jsonl", 2)
    lines = _lines(path)
    path.write_bytes(lines[0] + lines[1] + lines[1])

    with pytest.raises(JournalCorrupt) as caught:
        Journal(path).load()
    assert caught.value.line == 3
    assert "sequence 2 follows 2" in str(caught.value)


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_unicode_and_markup_like_text_round_trip_verbatim(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r1.jsonl"
    journal = Journal(path)
    written = [
        journal.append(EventKind.STEP_FAILED, {"step": "smoke", "summary": text, text: [text, {"nested": text}]}, at=1.0),
        journal.append(EventKind.NOTE, {"message": "after"}, at=2.0),
    ]
    journal.close()

    loaded = Journal(path).load()
    assert loaded == written
    assert loaded[0].data["summary"] == text
    assert len(_lines(path)) == 2  # the payload never breaks a record across lines


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)
_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(list(EventKind)),
        st.dictionaries(st.text(), _JSON_VALUES, max_size=5),
        st.floats(min_value=0, max_value=4e9, allow_nan=False),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_EVENTS)
def test_any_list_of_events_round_trips(events: list[tuple[EventKind, dict[str, Any], float]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.jsonl"
        journal = Journal(path)
        written = [journal.append(kind, data, at) for kind, data, at in events]
        journal.close()

        reader = Journal(path)
        assert reader.load(repair=False) == written
        assert reader.next_seq == len(events) + 1


@pytest.mark.parametrize("first", [0, 2, 7])
def test_a_journal_that_does_not_start_at_one_is_reported(tmp_path: Path, first: int) -> None:
    path = tmp_path / "r1.jsonl"
    lines = [encode(Event(EventKind.NOTE, {"message": f"n{seq}"}, at=1.0, seq=seq)) for seq in (first, first + 1)]
    path.write_bytes(b"".join(lines))

    with pytest.raises(JournalCorrupt) as caught:
        Journal(path).load()
    assert caught.value.line == 1
    assert str(caught.value).startswith(f"{path}:1: the first sequence number is {first}, expected 1")


def test_creating_a_journal_fsyncs_every_new_folder_and_the_releases_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    releases = tmp_path / "state" / "repo-key" / "production" / "releases"
    journal = Journal(releases / "r1.jsonl")
    journal.append(EventKind.NOTE, {"message": "first"}, at=1.0)
    first_append = list(synced)
    journal.append(EventKind.NOTE, {"message": "second"}, at=2.0)
    journal.close()

    # each created folder's entry is synced in its parent, then the new file's entry in releases/
    for folder in (tmp_path, tmp_path / "state", tmp_path / "state" / "repo-key", releases.parent, releases):
        assert str(folder) in first_append, f"{folder} was not fsynced"
    assert first_append.index(str(releases)) < first_append.index(str(releases / "r1.jsonl"))
    # later appends sync the file only
    assert synced[len(first_append):] == [str(releases / "r1.jsonl")]
