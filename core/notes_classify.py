"""Which section one commit message belongs to, and how commits group into pull requests.

Pure functions over ``Commit``s: no git, no rendering.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .notes_git import Commit

__all__ = [
    "PRIORITY",
    "RULE_SECTIONS",
    "Classified",
    "Rule",
    "cancelled_reverts",
    "classify",
    "compile_rules",
    "pr_number",
    "pull_request_members",
]

PUBLISHED = ("features", "improvements", "fixes", "breaking", "deprecations")
RULE_SECTIONS = (*PUBLISHED, "other", "skip")
# When a pull request is one line, the strongest section among its commits wins.
PRIORITY = ("breaking", "features", "deprecations", "fixes", "improvements", "other")

CONVENTIONAL = re.compile(
    r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?:[ \t]*(?P<desc>\S.*)$"
)
TYPE_SECTIONS = {
    "feat": "features", "feature": "features",
    "fix": "fixes", "bugfix": "fixes", "hotfix": "fixes",
    "perf": "improvements", "refactor": "improvements", "improvement": "improvements",
    "deprecate": "deprecations", "deprecation": "deprecations", "deprecated": "deprecations",
    "docs": "other", "doc": "other",
    # Maintenance types are declared internal by their authors; JSON still lists them.
    "chore": "skip", "ci": "skip", "build": "skip", "test": "skip", "tests": "skip",
    "style": "skip", "release": "skip",
    "bump": "skip",  # commitizen's "bump: version 4.12.1 → 4.13.0"
}
_DEPRECATE_WORDS = frozenset(("deprecate", "deprecates", "deprecated", "deprecating"))
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
    **dict.fromkeys(_DEPRECATE_WORDS, "deprecations"),
}
# gitmoji (https://gitmoji.dev), as fastapi's projects write them: "✨ Add …", "🐛 Fix …".
# Variation selectors are dropped before the lookup ("♻️" and "♻" are one emoji).
_GITMOJI_SECTIONS = {
    "✨": "features", "🎉": "features",
    "🐛": "fixes", "🚑": "fixes", "🩹": "fixes", "🔒": "fixes",
    "⚡": "improvements", "♻": "improvements", "🎨": "improvements", "🚸": "improvements",
    "💄": "improvements", "♿": "improvements", "🌐": "improvements",
    "💥": "breaking",
    "🗑": "deprecations",
    "📝": "other", "✏": "other",
    "🔖": "skip", "⬆": "skip", "⬇": "skip", "📌": "skip", "➕": "skip", "➖": "skip",
    "👷": "skip", "💚": "skip", "✅": "skip", "🔧": "skip", "🔨": "skip", "🙈": "skip",
    "🚨": "skip", "👥": "skip", "💡": "skip",
}
# Version bumps written by hand or by bump2version/release tools: noise, never a change.
_VERSION = r"v?\d+\.\d+(?:\.\d+)?(?:[-.+][0-9A-Za-z.-]+)?"
_VERSION_BUMP = re.compile(
    rf"^(?:(?:bump|release|releasing|prepare release|version)(?: version)?:?\s+(?:to\s+)?)?"
    rf"(?:{_VERSION}\s*(?:→|->|to)\s*)?{_VERSION}\.?$",
    re.IGNORECASE,
)
# A bot or a person keeping the release notes themselves up to date ("📝 Update release notes"):
# bookkeeping of the release, like a version bump, never a change of the product.
_NOTES_UPKEEP = re.compile(r"^(?:update|updated|regenerate)\s+(?:the\s+)?(?:release\s+notes|changelog)\.?$", re.IGNORECASE)
_BUMP_START = frozenset("bBrRpPvV0123456789")  # skips the regex for nearly every subject
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*(?P<text>.*)$", re.MULTILINE)
_SQUASH_PR = re.compile(r"\(#(?P<pr>\d+)\)\s*$")
_MERGE_PR = re.compile(r"^Merge pull request #(?P<pr>\d+) from \S+")
_REVERT_SUBJECT = re.compile(r'^Revert "(?P<subject>.*)"$')
_REVERTS_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{7,40})")


class Classified(NamedTuple):
    """The section of one message, the text to publish, and its conventional parts."""

    section: str
    text: str
    type: str = ""  # the conventional type when it is one we know; "" otherwise
    scope: str = ""
    breaking: bool = False
    detail: str = ""  # the BREAKING CHANGE footer


@dataclass(frozen=True)
class Rule:
    """A team's ``[[notes.rules]]`` entry, compiled."""

    pattern: re.Pattern[str]
    section: str


def compile_rules(rules: Sequence[Mapping[str, Any]]) -> list[Rule]:
    """Validate and compile ``{"pattern": regex, "section": name}`` mappings.

    Raises:
        ValueError: naming the rule (1-based) and what is wrong with it.
    """
    compiled = []
    for index, rule in enumerate(rules):
        section = str(rule.get("section", ""))
        if section not in RULE_SECTIONS:
            raise ValueError(
                f"notes rule {index + 1}: section {section!r} is not one of {', '.join(RULE_SECTIONS)}"
            )
        try:
            compiled.append(Rule(re.compile(str(rule.get("pattern", ""))), section))
        except re.error as error:
            raise ValueError(f"notes rule {index + 1}: pattern is not a valid regex: {error}") from None
    return compiled


def classify(subject: str, body: str, rules: Sequence[Rule]) -> Classified:
    """Section for one message: rules, version bumps, conventional commits, first-word hints."""
    subject = subject.strip()  # " docs: …" is still a docs commit
    for rule in rules:
        if rule.pattern.search(subject):
            return Classified(rule.section, subject)
    if subject[:1] in _BUMP_START and _VERSION_BUMP.match(subject):
        return Classified("skip", subject)
    if subject[:1] in "uUrR" and _NOTES_UPKEEP.match(subject):
        return Classified("skip", subject)
    footer = _BREAKING_FOOTER.search(body) if "BREAKING" in body else None
    match = CONVENTIONAL.match(subject) if ":" in subject else None
    if match is not None and match["type"].lower() in TYPE_SECTIONS:
        kind = match["type"].lower()
        desc = match["desc"]
        breaking = bool(match["bang"]) or footer is not None
        section = TYPE_SECTIONS[kind]
        if breaking:
            section = "breaking"
        elif section != "skip" and desc.split(" ", 1)[0].lower() in _DEPRECATE_WORDS:
            section = "deprecations"  # "feat(api): deprecate v1 search" deprecates something
        detail = footer["text"].strip() if footer is not None else ""
        return Classified(section, desc[:1].upper() + desc[1:], kind, (match["scope"] or "").strip(),
                          breaking, detail)
    if footer is not None:
        return Classified("breaking", subject, breaking=True, detail=footer["text"].strip())
    first_word, _, rest = subject.partition(" ")
    if first_word and not first_word[0].isascii():
        emoji = first_word.replace("\ufe0f", "")
        text = rest.strip() or subject
        if _NOTES_UPKEEP.match(text):
            return Classified("skip", text, type=emoji)
        if emoji in _GITMOJI_SECTIONS:
            return Classified(_GITMOJI_SECTIONS[emoji], text, type=emoji)
        first_word = text.split(" ", 1)[0]  # an emoji we do not know: the words still tell
        subject = text
    section = _FIRST_WORD_SECTIONS.get(first_word.rstrip(":,.").lower(), "other")
    return Classified(section, subject)


def pr_number(commit: Commit) -> int | None:
    """The pull request a merge (``Merge pull request #N``) or squash (``… (#N)``) names."""
    if "#" not in commit.subject:
        return None
    match = _MERGE_PR.match(commit.subject) or _SQUASH_PR.search(commit.subject)
    return int(match["pr"]) if match else None


def cancelled_reverts(commits: Sequence[Commit]) -> set[str]:
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
                conventional = CONVENTIONAL.match(commit.subject)
                wanted = quoted["subject"] if quoted else (
                    conventional["desc"] if conventional and conventional["type"] == "revert" else None)
                target = next((older.sha for older in commits[index + 1:]
                               if older.subject == wanted), None)
        if target is not None and target not in cancelled and target != commit.sha:
            cancelled.update((commit.sha, target))
    return cancelled


def pull_request_members(commits: Sequence[Commit]) -> dict[str, list[Commit]]:
    """Merge SHA → the commits it brought in, for every merge on the first-parent line.

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
