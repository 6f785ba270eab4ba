"""Reading a range of commits (and what a ref is) from git for the release notes."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

__all__ = ["Commit", "NotesError", "collect_commits", "iter_commits", "tag_date"]


class Commit(NamedTuple):
    """One commit as read from ``git log`` (a NamedTuple: 20,000 of them are built per range)."""

    sha: str
    parents: tuple[str, ...]
    author: str
    timestamp: int
    subject: str
    body: str = ""


class NotesError(Exception):
    """git could not list the range (an unknown ref, not a repository)."""


_FIELDS = 6  # sha, parents, author, timestamp, subject, body; NUL-separated, NUL after each


def iter_commits(repo_path: Path | str, from_ref: str | None, to_ref: str) -> Iterator[Commit]:
    """Commits reachable from ``to_ref`` and not from ``from_ref``, newest first, one git call.

    Streams: records are parsed while git is still writing, so on a large range the Python
    work overlaps git's instead of following it.
    """
    revision = f"{from_ref}..{to_ref}" if from_ref else to_ref
    argv = [
        "git", "-C", str(repo_path), "log", revision, "-z", "--no-color", "--encoding=UTF-8",
        "--format=%H%x00%P%x00%an%x00%ct%x00%s%x00%b",
        "--",  # so a ref is never taken for a path
    ]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        pending = b""
        fields: list[str] = []
        while chunk := process.stdout.read1(1 << 16):  # type: ignore[attr-defined]  # a BufferedReader
            complete, _, pending = (pending + chunk).rpartition(b"\x00")  # pending: a field git is still writing
            if not _:
                continue
            # One decode per chunk, not per field: NUL never occurs inside a UTF-8 sequence, so
            # the complete fields decode exactly as they would one by one.
            fields.extend(complete.decode("utf-8", errors="replace").split("\x00"))
            usable = len(fields) - len(fields) % _FIELDS
            columns = iter(fields[:usable])
            for sha, parents, author, timestamp, subject, body in zip(*[columns] * _FIELDS):
                yield Commit(sha, tuple(parents.split()), author, int(timestamp or 0), subject, body.rstrip("\n"))
            del fields[:usable]
        error = process.stderr.read().decode("utf-8", errors="replace").strip()
        if process.wait() != 0:
            raise NotesError(f"git log {revision} in {repo_path} failed: {error or 'exit ' + str(process.returncode)}")


def collect_commits(repo_path: Path | str, from_ref: str | None, to_ref: str) -> list[Commit]:
    """Every commit of the range as a list (see ``iter_commits``)."""
    return list(iter_commits(repo_path, from_ref, to_ref))


def tag_date(repo_path: Path | str, ref: str) -> dt.date | None:
    """The date of tag ``ref`` (the tagger's for an annotated tag, else its commit's).

    None when ``ref`` is not a tag: a branch or a SHA names no release day.
    """
    result = subprocess.run(
        ["git", "-C", str(repo_path), "for-each-ref", "--format=%(creatordate:short)",
         f"refs/tags/{ref}"],
        capture_output=True, text=True, check=False,
    )
    lines = result.stdout.split()  # the day in the tagger's own time zone, as they saw it
    if result.returncode != 0 or len(lines) != 1:
        return None
    try:
        return dt.date.fromisoformat(lines[0])
    except ValueError:
        return None
