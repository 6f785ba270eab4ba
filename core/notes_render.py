"""Release notes as published: entries, the markdown template, the JSON form, a summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from .sanitize import plain

__all__ = ["SECTIONS", "CommitNote", "NoteEntry", "ReleaseNotes", "count_phrase", "strip_control"]

# Published sections in template order, with their heading, line marker and the singular
# and plural words a count of them takes ("1 breaking change", "2 bug fixes").
SECTIONS: dict[str, tuple[str, str]] = {
    "features": ("New Features", "✨ "),
    "improvements": ("Improvements", "⚡ "),
    "fixes": ("Bug Fixes", "🐛 "),
    "breaking": ("Breaking Changes", ""),
    "deprecations": ("Deprecations", ""),
}
_COUNT_WORDS = {
    "features": ("new feature", "new features"),
    "improvements": ("improvement", "improvements"),
    "fixes": ("bug fix", "bug fixes"),
    "breaking": ("breaking change", "breaking changes"),
    "deprecations": ("deprecation", "deprecations"),
    "other": ("other change", "other changes"),
    "commits": ("commit", "commits"),
}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
# One sanitiser for every untrusted string shown anywhere (see core/sanitize.py).
strip_control = plain


def count_phrase(count: int, kind: str) -> str:
    """``"1 breaking change"``, ``"2 bug fixes"``: a count with the word it takes."""
    singular, plural = _COUNT_WORDS[kind]
    return f"{count} {singular if count == 1 else plural}"


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
    scope: str = ""

    def to_markdown(self) -> str:
        text = strip_control(self.text)
        if self.section == "fixes" and not text.lower().startswith("fix"):
            text = f"Fixed: {text}"  # the reference template's wording
        if self.pr is not None and f"#{self.pr}" not in text:
            text = f"{text} (#{self.pr})"
        if self.detail:
            text = f"{text}: {strip_control(self.detail)}"
        if self.scope:
            # As git-cliff and commitizen render a scope; '*' would end the bold early.
            text = f"**{strip_control(self.scope).replace('*', '')}:** {text}"
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
        """The entries published under ``name`` (a key of SECTIONS, or "other")."""
        return [entry for entry in self.entries if entry.section == name]

    def summary(self) -> str:
        """``"12 commits: 1 new feature, 2 bug fixes"`` for a step's one-line result."""
        counts = [count_phrase(len(self.section(name)), name)
                  for name in (*SECTIONS, "other") if self.section(name)]
        return f"{count_phrase(len(self.commits), 'commits')}: {', '.join(counts) or 'no changes'}"

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
                    {"text": e.text, "scope": e.scope, "pr": e.pr, "commits": list(e.shas),
                     "detail": e.detail}
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
