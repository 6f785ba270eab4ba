"""Release notes from commits: read one range with one ``git log``, classify, render.

Commit messages are untrusted: they are kept verbatim in the data and only stripped of
terminal control sequences when rendered as markdown lines.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from .sanitize import plain

__all__ = [
    "SECTIONS",
    "Commit",
    "CommitNote",
    "NoteEntry",
    "ReleaseNotes",
    "build_notes",
    "collect_commits",
    "notes_for_range",
    "strip_control",
]

# Published sections in template order, with their heading and line marker.
SECTIONS: dict[str, tuple[str, str]] = {
    "features": ("New Features", "✨ "),
    "improvements": ("Improvements", "⚡ "),
    "fixes": ("Bug Fixes", "🐛 "),
    "breaking": ("Breaking Changes", ""),
    "deprecations": ("Deprecations", ""),
}
# Sections a commit may end up in beyond the published ones: "other" renders as an
# "Other changes" group under Improvements; the rest are listed only in the JSON.
_HIDDEN = ("skip", "merge", "reverted")
RULE_SECTIONS = (*SECTIONS, "other", "skip")
_PRIORITY = ("breaking", "features", "deprecations", "fixes", "improvements", "other")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")

_CONVENTIONAL = re.compile(
    r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:[ \t]*(?P<desc>\S.*)$"
)
_TYPE_SECTIONS = {
    "feat": "features", "feature": "features",
    "fix": "fixes", "bugfix": "fixes", "hotfix": "fixes",
    "perf": "improvements", "refactor": "improvements", "improvement": "improvements",
    "deprecate": "deprecations", "deprecation": "deprecations", "deprecated": "deprecations",
    "docs": "other", "doc": "other",
    # Maintenance types are declared internal by their authors; JSON still lists them.
    "chore": "skip", "ci": "skip", "build": "skip", "test": "skip", "tests": "skip",
    "style": "skip", "release": "skip",
}
_FIRST_WORD_SECTIONS = {
    **dict.fromkeys(("fix", "fixes", "fixed", "fixing", "bugfix", "hotfix", "resolve",
                     "resolves", "resolved", "correct", "corrects", "corrected"), "fixes"),
    **dict.fromkeys(("add", "adds", "added", "implement", "implements", "implemented",
                     "introduce", "introduces", "introduced", "new", "support", "supports",
                     "enable", "enables", "allow", "allows"), "features"),
    **dict.fromkeys(("improve", "improves", "improved", "optimize", "optimizes", "optimise",
                     "optimised", "optimized", "speed", "speeds", "faster", "refactor",
                     "refactors", "refactored", "simplify", "simplifies", "better",
                     "polish", "tweak"), "improvements"),
    **dict.fromkeys(("deprecate", "deprecates", "deprecated"), "deprecations"),
}
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*(?P<text>.*)$", re.MULTILINE)
_SQUASH_PR = re.compile(r"\(#(?P<pr>\d+)\)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #(?P<pr>\d+) from \S+")
_REVERT_SUBJECT = re.compile(r'^Revert "(?P<subject>.*)"$')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")
# One sanitiser for every untrusted string shown anywhere (see core/sanitize.py).
strip_control = plain


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
            parts = (pending + chunk).split(b"\x00")
            pending = parts.pop()  # a field git has not finished writing
            fields.extend(part.decode("utf-8", errors="replace") for part in parts)
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


class CommitNote(NamedTuple):
    """A commit with the section it landed in (for the JSON form)."""

    sha: str
    subject: str
    section: str
    pr: int | None
    type: str = ""
    scope: str = ""
    breaking: bool = False
    author: str = ""


class NoteEntry(NamedTuple):
    """One published line: a commit, or a pull request with all of its commits.

    A NamedTuple like Commit: one is built per commit, and a frozen dataclass's __init__
    costs several times more on a 20,000-commit range.
    """

    section: str
    text: str
    pr: int | None
    shas: tuple[str, ...]
    detail: str = ""  # e.g. the BREAKING CHANGE footer

    def to_markdown(self) -> str:
        text = strip_control(self.text)
        if self.section == "fixes" and not text.lower().startswith("fix"):
            text = f"Fixed: {text}"  # the reference template's wording
        if self.pr is not None and f"#{self.pr}" not in text:
            text = f"{text} (#{self.pr})"
        if self.detail:
            text = f"{text}: {strip_control(self.detail)}"
        return text


@dataclass(frozen=True)
class ReleaseNotes:
    """Classified release notes for one version."""

    version: str
    tag: str
    previous_tag: str | None
    date: dt.date
    compare_url: str
    entries: tuple[NoteEntry, ...]
    commits: tuple[CommitNote, ...]

    def section(self, name: str) -> list[NoteEntry]:
        return [entry for entry in self.entries if entry.section == name]

    def to_markdown(self) -> str:
        """The reference template (release-process.md, section 6)."""
        date = f"{_MONTHS[self.date.month - 1]} {self.date.day}, {self.date.year}"
        lines = [f"# {strip_control(self.tag)} ({date})", ""]
        for name, (heading, marker) in SECTIONS.items():
            lines.append(f"## {heading}")
            entries = self.section(name)
            lines.extend(f"- {marker}{entry.to_markdown()}" for entry in entries)
            others = self.section("other") if name == "improvements" else []
            if others:
                lines.append("- Other changes:")
                lines.extend(f"  - {entry.to_markdown()}" for entry in others)
            if not entries and not others:
                lines.append("- None")
            lines.append("")
        if self.compare_url:
            lines += ["---", "", f"[Full Changelog]({self.compare_url})"]
        return "\n".join(lines).rstrip("\n") + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the sections as published and every commit with its section."""
        return {
            "version": self.version,
            "tag": self.tag,
            "previous_tag": self.previous_tag,
            "date": self.date.isoformat(),
            "compare_url": self.compare_url,
            "sections": {
                name: [
                    {"text": e.text, "pr": e.pr, "commits": list(e.shas), "detail": e.detail}
                    for e in self.section(name)
                ]
                for name in (*SECTIONS, "other")
            },
            "commits": [
                {"sha": c.sha, "subject": c.subject, "section": c.section, "pr": c.pr,
                 "type": c.type, "scope": c.scope, "breaking": c.breaking, "author": c.author}
                for c in self.commits
            ],
        }


class _Classified(NamedTuple):
    section: str
    text: str
    type: str = ""
    scope: str = ""
    breaking: bool = False
    detail: str = ""


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    section: str


def _compile_rules(rules: Sequence[Mapping[str, Any]]) -> list[_Rule]:
    compiled = []
    for index, rule in enumerate(rules):
        section = str(rule.get("section", ""))
        if section not in RULE_SECTIONS:
            raise ValueError(
                f"notes rule {index + 1}: section {section!r} is not one of {', '.join(RULE_SECTIONS)}"
            )
        try:
            compiled.append(_Rule(re.compile(str(rule.get("pattern", ""))), section))
        except re.error as error:
            raise ValueError(f"notes rule {index + 1}: pattern is not a valid regex: {error}") from None
    return compiled


def _classify(subject: str, body: str, rules: Sequence[_Rule]) -> _Classified:
    """Section for one message: rules first, then conventional commits, then first-word hints."""
    for rule in rules:
        if rule.pattern.search(subject):
            return _Classified(rule.section, subject)
    footer = _BREAKING_FOOTER.search(body) if "BREAKING" in body else None
    match = _CONVENTIONAL.match(subject) if ":" in subject else None
    if match is not None and match["type"].lower() in _TYPE_SECTIONS:
        kind = match["type"].lower()
        desc = match["desc"]
        desc = desc[:1].upper() + desc[1:]
        breaking = bool(match["bang"]) or footer is not None
        section = "breaking" if breaking else _TYPE_SECTIONS[kind]
        detail = footer["text"].strip() if footer is not None else ""
        return _Classified(section, desc, kind, match["scope"] or "", breaking, detail)
    if footer is not None:
        return _Classified("breaking", subject, breaking=True, detail=footer["text"].strip())
    first_word = subject.split(" ", 1)[0].rstrip(":,.").lower()
    return _Classified(_FIRST_WORD_SECTIONS.get(first_word, "other"), subject)


def _cancelled_reverts(commits: Sequence[Commit]) -> set[str]:
    """SHAs of reverts and the commits they revert, when both are in the range."""
    by_sha = {commit.sha: commit for commit in commits}
    cancelled: set[str] = set()
    for index, commit in enumerate(commits):  # newest first: a revert of a revert cancels first
        if commit.sha in cancelled:
            continue
        target = None
        if commit.subject.startswith(("Revert ", "revert")):
            sha_match = _REVERTS_SHA.search(commit.body)
            if sha_match is not None:
                target = next((sha for sha in by_sha if sha.startswith(sha_match["sha"])), None)
            else:
                quoted = _REVERT_SUBJECT.match(commit.subject)
                conventional = _CONVENTIONAL.match(commit.subject)
                wanted = quoted["subject"] if quoted else (
                    conventional["desc"] if conventional and conventional["type"] == "revert" else None)
                target = next((older.sha for older in commits[index + 1:]
                               if older.subject == wanted), None)
        if target is not None and target not in cancelled and target != commit.sha:
            cancelled.update((commit.sha, target))
    return cancelled


def _pull_request_members(commits: Sequence[Commit]) -> dict[str, list[Commit]]:
    """Merge SHA → the commits it brought in, for every merge in the range.

    Walks the first-parent line oldest first, so each commit belongs to the first merge
    that introduced it; linear in the size of the range.
    """
    if all(len(commit.parents) < 2 for commit in commits):
        return {}  # linear history (squash merges): nothing to collapse
    by_sha = {commit.sha: commit for commit in commits}
    parent_shas = {parent for commit in commits for parent in commit.parents}
    tips = [commit for commit in commits if commit.sha not in parent_shas]
    mainline: list[Commit] = []
    seen: set[str] = set()
    for tip in tips:
        current: Commit | None = tip
        while current is not None and current.sha not in seen:
            seen.add(current.sha)
            mainline.append(current)
            current = by_sha.get(current.parents[0]) if current.parents else None
    members: dict[str, list[Commit]] = {}
    for merge in reversed(mainline):
        if len(merge.parents) < 2:
            continue
        brought: list[Commit] = []
        stack = [sha for sha in merge.parents[1:] if sha in by_sha and sha not in seen]
        while stack:
            sha = stack.pop()
            if sha in seen:
                continue
            seen.add(sha)
            brought.append(by_sha[sha])
            stack.extend(p for p in by_sha[sha].parents if p in by_sha and p not in seen)
        members[merge.sha] = brought
    return members


def build_notes(
    commits: Sequence[Commit],
    *,
    version: str,
    tag: str,
    previous_tag: str | None,
    date: dt.date,
    compare_url: str = "",
    rules: Sequence[Mapping[str, Any]] = (),
    classified: Mapping[str, _Classified] | None = None,
) -> ReleaseNotes:
    """Classify ``commits`` (newest first, as ``collect_commits`` returns them).

    Args:
        compare_url: a template with ``{previous}`` and ``{tag}``; left out without a previous tag.
        rules: ``{"pattern": regex, "section": name}`` mappings tried on each subject first;
            section is a published section, ``"other"`` or ``"skip"``.
    """
    compiled = _compile_rules(rules)
    cancelled = _cancelled_reverts(commits)
    members = _pull_request_members(commits)
    if classified is None:
        classified = {c.sha: _classify(c.subject, c.body, compiled) for c in commits}

    by_sha = {c.sha: c for c in commits}
    pr_members = {sha: group for sha, group in members.items() if _pr_number(by_sha[sha])}
    member_of = {c.sha for group in pr_members.values() for c in group}
    entries: list[NoteEntry] = []
    notes_by_sha: dict[str, CommitNote] = {}
    for commit in commits:
        if commit.sha in member_of:
            continue  # noted with the pull request that brought it in
        info, pr = classified[commit.sha], _pr_number(commit)
        entry: NoteEntry | None = None
        if commit.sha in cancelled:
            section = "reverted"
        elif commit.sha in pr_members:
            entry = _pull_request_entry(commit, pr_members[commit.sha], classified, cancelled,
                                        compiled)
            section = entry.section
        elif commit.sha in members:
            section = "merge"  # a plain branch merge: its commits are listed one by one
        else:
            section = info.section
            entry = NoteEntry(section, info.text, pr, (commit.sha,), info.detail)
        if entry is not None and entry.section not in _HIDDEN:
            entries.append(entry)
        notes_by_sha[commit.sha] = _note(commit, info, section, pr)
        for member in pr_members.get(commit.sha, ()):
            member_section = "reverted" if member.sha in cancelled else section
            notes_by_sha[member.sha] = _note(member, classified[member.sha], member_section,
                                             _pr_number(member) or pr)

    url = ""
    if compare_url and previous_tag:
        url = compare_url.replace("{previous}", previous_tag).replace("{tag}", tag)
    return ReleaseNotes(
        version=version, tag=tag, previous_tag=previous_tag, date=date, compare_url=url,
        entries=tuple(entries),
        commits=tuple(notes_by_sha[c.sha] for c in commits if c.sha in notes_by_sha),
    )


def _note(commit: Commit, info: _Classified, section: str, pr: int | None) -> CommitNote:
    return CommitNote(commit.sha, commit.subject, section, pr, info.type, info.scope,
                      info.breaking, commit.author)


def _pr_number(commit: Commit) -> int | None:
    if "#" not in commit.subject:
        return None
    match = _MERGE_PR.match(commit.subject) or _SQUASH_PR.search(commit.subject)
    return int(match["pr"]) if match else None


def _pull_request_entry(
    merge: Commit,
    brought: Sequence[Commit],
    classified: Mapping[str, _Classified],
    cancelled: set[str],
    rules: Sequence[_Rule],
) -> NoteEntry:
    """One line for a pull request: its title, classified by the title or else by its commits."""
    live = [c for c in brought if c.sha not in cancelled]
    title = next((line.strip() for line in merge.body.splitlines() if line.strip()), merge.subject)
    by_title = _classify(title, "", rules)
    sections = [classified[c.sha].section for c in live]
    best = next((s for s in _PRIORITY if s in sections), None)
    section = best if by_title.section == "other" and best is not None else by_title.section
    if brought and not live:
        section = "reverted"  # everything the pull request brought was reverted in range
    detail = next((classified[c.sha].detail for c in live if classified[c.sha].detail), "")
    return NoteEntry(section, by_title.text, _pr_number(merge),
                     (merge.sha, *(c.sha for c in live)), detail)


def notes_for_range(
    repo_path: Path | str, from_ref: str | None, to_ref: str, **kw: object
) -> ReleaseNotes:
    """``build_notes`` over ``collect_commits(repo_path, from_ref, to_ref)``.

    Keyword arguments are those of ``build_notes``; ``version`` defaults to ``to_ref``,
    ``tag`` to ``to_ref``, ``previous_tag`` to ``from_ref`` and ``date`` to today.
    """
    kw.setdefault("tag", to_ref)
    kw.setdefault("version", to_ref)
    kw.setdefault("previous_tag", from_ref)
    kw.setdefault("date", dt.date.today())
    compiled = _compile_rules(kw.get("rules", ()))  # type: ignore[arg-type]
    commits: list[Commit] = []
    classified: dict[str, _Classified] = {}
    for commit in iter_commits(repo_path, from_ref, to_ref):  # classify while git still writes
        commits.append(commit)
        classified[commit.sha] = _classify(commit.subject, commit.body, compiled)
    return build_notes(commits, classified=classified, **kw)  # type: ignore[arg-type]
