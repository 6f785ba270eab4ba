"""Release notes from commits: read one range with one ``git log``, classify, render.

Commit messages are untrusted: they are kept verbatim in the data and only stripped of
terminal control sequences when rendered as markdown lines. Reading lives in
``notes_git``, classification in ``notes_classify``, the published forms in ``notes_render``;
this module groups commits into entries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .notes_classify import (
    PRIORITY,
    RULE_SECTIONS,
    Classified,
    Rule,
    cancelled_reverts,
    classify,
    compile_rules,
    pr_number,
    pull_request_members,
)
from .notes_git import Commit, NotesError, collect_commits, iter_commits, tag_date
from .notes_render import SECTIONS, CommitNote, NoteEntry, ReleaseNotes, count_phrase, strip_control

__all__ = [
    "RULE_SECTIONS",
    "SECTIONS",
    "Commit",
    "CommitNote",
    "NoteEntry",
    "NotesError",
    "PrTitles",
    "ReleaseNotes",
    "build_notes",
    "collect_commits",
    "count_phrase",
    "notes_for_range",
    "strip_control",
]

# Sections a commit may end up in beyond the published ones: "other" renders as an
# "Other changes" group under Improvements; the rest are listed only in the JSON.
_HIDDEN = ("skip", "merge", "reverted")
# Looks up pull request titles by number (e.g. from GitHub); numbers it cannot answer are
# left out of the mapping.
PrTitles = Callable[[Sequence[int]], Mapping[int, str]]


def build_notes(
    commits: Sequence[Commit],
    *,
    version: str,
    tag: str,
    previous_tag: str | None,
    date: dt.date,
    compare_url: str = "",
    rules: Sequence[Mapping[str, Any]] = (),
    classified: Mapping[str, Classified] | None = None,
    pr_titles: PrTitles | None = None,
) -> ReleaseNotes:
    """Classify ``commits`` (newest first, as ``collect_commits`` returns them).

    A pull request merged with a merge commit is one line (its title) unless its title is not
    a conventional commit and the commits it brought carry their own types: then those
    commits are the entries, each in its own section (a long-lived branch merged once).
    Merges that are not pull requests (``develop`` into a feature branch) are noise.

    Args:
        compare_url: a template with ``{previous}`` and ``{tag}``; left out without a previous tag.
        rules: ``{"pattern": regex, "section": name}`` mappings tried on each subject first;
            section is a published section, ``"other"`` or ``"skip"``.
        pr_titles: looks up the titles of merged pull requests whose merge commit has no
            body; without it (or without an answer) the first conventional subject inside
            the pull request stands in for the title.
    """
    compiled = compile_rules(rules)
    cancelled = cancelled_reverts(commits)
    members = pull_request_members(commits)
    if classified is None:
        classified = {c.sha: classify(c.subject, c.body, compiled) for c in commits}

    by_sha = {c.sha: c for c in commits}
    pr_members = {sha: group for sha, group in members.items() if pr_number(by_sha[sha])}
    titles = _pull_request_titles([by_sha[sha] for sha in pr_members], pr_titles)
    member_of = {c.sha for group in pr_members.values() for c in group}
    entries: list[NoteEntry] = []
    notes_by_sha: dict[str, CommitNote] = {}
    for commit in commits:
        if commit.sha in member_of:
            continue  # noted with the pull request that brought it in
        info, pr = classified[commit.sha], pr_number(commit)
        if commit.sha in pr_members:
            pr_entries, pr_notes = _pull_request(
                commit, pr_members[commit.sha], titles.get(commit.sha), classified, cancelled, compiled)
            entries.extend(entry for entry in pr_entries if entry.section not in _HIDDEN)
            notes_by_sha.update(pr_notes)
            continue
        if commit.sha in cancelled:
            section = "reverted"
        elif len(commit.parents) > 1:
            section = "merge"  # a plain branch merge: its commits are listed one by one
        else:
            section = info.section
            if section not in _HIDDEN:
                entries.append(NoteEntry(section, info.text, pr, (commit.sha,), info.detail, info.scope))
        notes_by_sha[commit.sha] = _note(commit, info, section, pr)

    url = ""
    if compare_url and previous_tag:
        url = compare_url.replace("{previous}", previous_tag).replace("{tag}", tag)
    return ReleaseNotes(
        version=version, tag=tag, previous_tag=previous_tag, date=date, compare_url=url,
        entries=tuple(entries),
        commits=tuple(notes_by_sha[c.sha] for c in commits if c.sha in notes_by_sha),
    )


def _note(commit: Commit, info: Classified, section: str, pr: int | None) -> CommitNote:
    sha, _, author, _, subject, _ = commit  # unpacking: 20,000 of these, and a field lookup costs more
    _, _, kind, scope, breaking, _ = info
    return CommitNote(sha, subject, section, pr, kind, scope, breaking, author)


def _body_title(merge: Commit) -> str:
    """GitHub writes the pull request's title as the first line of its merge commit's body."""
    return next((line.strip() for line in merge.body.splitlines() if line.strip()), "")


def _pull_request_titles(merges: Sequence[Commit], lookup: PrTitles | None) -> dict[str, str]:
    """Merge SHA → the pull request's title, from the body or else from ``lookup`` (one call)."""
    titles = {merge.sha: _body_title(merge) for merge in merges}
    missing = {pr_number(m): m.sha for m in merges if not titles[m.sha]}
    if lookup is not None and missing:
        found = lookup([number for number in missing if number is not None])
        for number, sha in missing.items():
            if number is not None and found.get(number, "").strip():
                titles[sha] = found[number].strip().splitlines()[0]
    return {sha: title for sha, title in titles.items() if title}


def _pull_request(
    merge: Commit,
    brought: Sequence[Commit],
    title: str | None,
    classified: Mapping[str, Classified],
    cancelled: set[str],
    rules: Sequence[Rule],
) -> tuple[list[NoteEntry], dict[str, CommitNote]]:
    """The entries for one merged pull request, and every commit of it for the JSON."""
    pr = pr_number(merge)
    live = [c for c in brought if c.sha not in cancelled and len(c.parents) < 2]
    by_title = classify(title, "", rules) if title else None
    notes: dict[str, CommitNote] = {}
    if (by_title is None or not by_title.type) and _spans_sections(live, classified):
        # A long-lived branch (features, fixes and breaking changes merged at once): its
        # conventional commits are the changes, each in its own section.
        entries = []
        for commit in brought:
            info = classified[commit.sha]
            own_pr = pr_number(commit)
            if commit.sha in cancelled:
                section = "reverted"
            elif len(commit.parents) > 1:
                section = "merge"
            else:
                section = info.section
                entries.append(NoteEntry(section, info.text, own_pr or pr, (commit.sha,),
                                         info.detail, info.scope))
            notes[commit.sha] = _note(commit, info, section, own_pr or pr)
        when = {commit.sha: commit.timestamp for commit in brought}
        entries.sort(key=lambda entry: when[entry.shas[0]], reverse=True)  # newest first, as git log
        notes[merge.sha] = _note(merge, classified[merge.sha], "merge", pr)
        return entries, notes
    entry = _one_line(merge, live, brought, by_title, title, classified)
    notes[merge.sha] = _note(merge, classified[merge.sha], entry.section, pr)
    for member in brought:
        member_section = "reverted" if member.sha in cancelled else (
            "merge" if len(member.parents) > 1 else entry.section)
        notes[member.sha] = _note(member, classified[member.sha], member_section,
                                  pr_number(member) or pr)
    return [entry], notes


def _spans_sections(live: Sequence[Commit], classified: Mapping[str, Classified]) -> bool:
    """Whether a pull request carries several changes: its typed commits fall in more than one
    published section, or two or more of them are pull requests of their own.

    A feature branch whose commits are all ``feat(copilot): …`` is one change, titled by its
    pull request; a branch carrying features and fixes, or made of merged pull requests
    (a release branch), is several.
    """
    typed = [c for c in live if classified[c.sha].type]
    sections = {classified[c.sha].section for c in typed}
    return len(sections & set(SECTIONS)) > 1 or sum(1 for c in typed if pr_number(c)) > 1


def _one_line(
    merge: Commit,
    live: Sequence[Commit],
    brought: Sequence[Commit],
    by_title: Classified | None,
    title: str | None,
    classified: Mapping[str, Classified],
) -> NoteEntry:
    """One line for a pull request: its title, classified by the title or else by its commits."""
    pr = pr_number(merge)
    if by_title is None:
        # No title known: the first conventional commit of it (oldest first) stands in,
        # never "Merge pull request #N from org/branch".
        oldest_first = sorted(live, key=lambda c: c.timestamp)
        stand_in = next((c for c in oldest_first if classified[c.sha].type), None)
        stand_in = stand_in or next(iter(oldest_first), None)
        by_title = (classified[stand_in.sha] if stand_in is not None
                    else Classified("other", f"Pull request #{pr} (no title recorded)"))
    sections = [classified[c.sha].section for c in live]
    best = next((s for s in PRIORITY if s in sections), None)
    section = best if by_title.section == "other" and best is not None else by_title.section
    if "breaking" in sections:
        section = "breaking"  # a breaking commit inside makes the pull request breaking
    if brought and not live and all(len(c.parents) < 2 for c in brought):
        section = "reverted"  # everything the pull request brought was reverted in range
    detail = by_title.detail or next(
        (classified[c.sha].detail for c in live if classified[c.sha].detail), "")
    return NoteEntry(section, by_title.text, pr, (merge.sha, *(c.sha for c in live)), detail,
                     by_title.scope)


def notes_for_range(
    repo_path: Path | str,
    from_ref: str | None,
    to_ref: str,
    *,
    pr_titles: PrTitles | None = None,
    **kw: object,
) -> ReleaseNotes:
    """``build_notes`` over ``collect_commits(repo_path, from_ref, to_ref)``.

    Keyword arguments are those of ``build_notes``; ``version`` defaults to ``to_ref``,
    ``tag`` to ``to_ref``, ``previous_tag`` to ``from_ref`` and ``date`` to the tag's date
    when ``to_ref`` is a tag, else today.
    """
    kw.setdefault("tag", to_ref)
    kw.setdefault("version", to_ref)
    kw.setdefault("previous_tag", from_ref)
    compiled = compile_rules(kw.get("rules", ()))  # type: ignore[arg-type]
    commits: list[Commit] = []
    classified: dict[str, Classified] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The tag's date is a second git call: it runs while the log streams, not after it.
        dated = pool.submit(tag_date, repo_path, to_ref) if "date" not in kw else None
        for commit in iter_commits(repo_path, from_ref, to_ref):  # classify while git still writes
            commits.append(commit)
            classified[commit.sha] = classify(commit.subject, commit.body, compiled)
        if dated is not None:
            kw["date"] = dated.result() or dt.date.today()
    return build_notes(commits, classified=classified, pr_titles=pr_titles, **kw)  # type: ignore[arg-type]
