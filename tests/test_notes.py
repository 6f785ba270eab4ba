"""Release notes: classification, pull requests, reverts, rendering, JSON."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from shipdeck.core.notes import (
    Commit,
    build_notes,
    collect_commits,
    notes_for_range,
    strip_control,
)
from shipdeck.core.sandbox.demo_repo import build_demo_repo

DATE = dt.date(2025, 10, 13)
COMPARE = "https://github.com/roleferry/roleferry/compare/{previous}...{tag}"


def _linear(*messages: str) -> list[Commit]:
    """Commits newest first, each the parent of the one before it in ``messages``."""
    commits = []
    for index, message in enumerate(messages):
        subject, _, body = message.partition("\n\n")
        parents = (f"{index + 1:040x}",) if index + 1 < len(messages) else ()
        commits.append(Commit(f"{index:040x}", parents, "Ada", 1_760_000_000 - index, subject, body))
    return commits


def _notes(*messages: str, **kw: object):
    kw.setdefault("rules", ())
    return build_notes(_linear(*messages), version="1.4.0", tag="v1.4.0",
                       previous_tag="v1.3.0", date=DATE, compare_url=COMPARE, **kw)


@pytest.mark.parametrize(
    ("message", "section", "text"),
    [
        ("feat: AI Copilot", "features", "AI Copilot"),
        ("feat(tracker): LivePages (#42)", "features", "LivePages (#42)"),
        ("fix: tracker not loading", "fixes", "Tracker not loading"),
        ("fix(email)!: change retry header", "breaking", "Change retry header"),
        ("perf: 30% faster API", "improvements", "30% faster API"),
        ("refactor(api): split service", "improvements", "Split service"),
        ("feat: new auth\n\nBREAKING CHANGE: tokens expire", "breaking", "New auth"),
        ("Drop old tokens\n\nBREAKING-CHANGE: tokens gone", "breaking", "Drop old tokens"),
        ("deprecate: legacy search", "deprecations", "Legacy search"),
        ("Deprecate the v1 client", "deprecations", "Deprecate the v1 client"),
        ("Fix typo in login page", "fixes", "Fix typo in login page"),
        ("Add CSV export", "features", "Add CSV export"),
        ("Improve email prompts", "improvements", "Improve email prompts"),
        ("Update README", "other", "Update README"),
        ("docs: deployment guide", "other", "Deployment guide"),
        ("wip", "other", "wip"),
        ("chore(deps): bump httpx", "skip", None),
        ("ci: cache pip", "skip", None),
        ("unknowntype: something", "other", "unknowntype: something"),
    ],
)
def test_single_commit_classification(message: str, section: str, text: str | None) -> None:
    notes = _notes(message)
    assert [c.section for c in notes.commits] == [section]
    assert [e.text for e in notes.entries] == ([] if text is None else [text])


def test_breaking_footer_becomes_the_detail() -> None:
    notes = _notes("feat(api)!: remove v1 (#48)\n\nBREAKING CHANGE: use /api/v2")
    (entry,) = notes.section("breaking")
    assert entry.pr == 48 and entry.detail == "use /api/v2"
    assert "- **api:** Remove v1 (#48): use /api/v2" in notes.to_markdown()  # scope kept


def test_rules_are_applied_first_and_validated() -> None:
    rules = [{"pattern": r"^\[ui\]", "section": "improvements"},
             {"pattern": r"^Bump ", "section": "skip"},
             {"pattern": r"^fix: flaky", "section": "skip"}]
    notes = _notes("[ui] new colours", "Bump version", "fix: flaky test", "fix: real bug",
                   rules=rules)
    assert [c.section for c in notes.commits] == ["improvements", "skip", "skip", "fixes"]
    with pytest.raises(ValueError, match="rule 1: section 'bugs'"):
        _notes("x", rules=[{"pattern": "x", "section": "bugs"}])
    with pytest.raises(ValueError, match="rule 1: pattern is not a valid regex"):
        _notes("x", rules=[{"pattern": "(", "section": "skip"}])


def test_revert_cancels_its_target_in_the_same_range_by_sha_or_subject() -> None:
    commits = _linear(
        f'Revert "feat: dark mode"\n\nThis reverts commit {2:040x}.',
        "fix: keep me",
        "feat: dark mode",
        'Revert "feat: from an earlier release"\n\nThis reverts commit ' + "f" * 40 + ".",
    )
    notes = build_notes(commits, version="1.4.0", tag="v1.4.0", previous_tag="v1.3.0", date=DATE)
    sections = {c.subject: c.section for c in notes.commits}
    assert sections['Revert "feat: dark mode"'] == "reverted"
    assert sections["feat: dark mode"] == "reverted"
    assert sections["fix: keep me"] == "fixes"
    # A revert of something released earlier is a change readers must see.
    assert sections['Revert "feat: from an earlier release"'] == "other"


def test_revert_of_a_revert_restores_the_original() -> None:
    notes = _notes('Revert "Revert "feat: x""', 'Revert "feat: x"', "feat: x")
    assert [c.section for c in notes.commits] == ["reverted", "reverted", "features"]


def test_markdown_matches_the_reference_template_and_says_none() -> None:
    markdown = _notes("feat: AI Copilot (beta): Ask questions, get answers").to_markdown()
    assert markdown == (
        "# v1.4.0 (October 13, 2025)\n\n"
        "## New Features\n- ✨ AI Copilot (beta): Ask questions, get answers\n\n"
        "## Improvements\n- None\n\n"
        "## Bug Fixes\n- None\n\n"
        "## Breaking Changes\n- None\n\n"
        "## Deprecations\n- None\n\n"
        "---\n\n"
        "[Full Changelog](https://github.com/roleferry/roleferry/compare/v1.3.0...v1.4.0)\n"
    )


def test_no_compare_link_without_a_previous_tag() -> None:
    notes = build_notes(_linear("feat: first"), version="0.1.0", tag="v0.1.0",
                        previous_tag=None, date=DATE, compare_url=COMPARE)
    assert "Full Changelog" not in notes.to_markdown()


def test_control_characters_are_stripped_from_markdown_but_kept_in_data() -> None:
    subject = "fix: \x1b]0;pwned\x07title \x1b[31mred\x1b[0m \u202eevil\x9b ok"
    notes = _notes(subject)
    line = notes.section("fixes")[0].to_markdown()
    assert "\x1b" not in notes.to_markdown() and "\u202e" not in line and "\x9b" not in line
    assert line == "Fixed: title red evil ok"
    assert notes.to_dict()["commits"][0]["subject"] == subject
    assert strip_control("a\tb\nc\x00d") == "a b cd"


def test_demo_range_end_to_end(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path, commits_per_feature=2)
    notes = notes_for_range(demo.path, "v1.3.0", "develop", version="1.4.0", tag="v1.4.0",
                            date=DATE, compare_url=COMPARE)
    by_pr = {e.pr: e for e in notes.entries if e.pr is not None}
    copilot = by_pr[41]
    assert copilot.section == "features"
    assert copilot.text == "AI Copilot (beta): Ask questions, get answers"
    assert len(copilot.shas) == 3  # the merge and both commits it brought in, one line
    assert by_pr[46].section == "improvements"
    assert by_pr[48].section == "breaking"
    markdown = notes.to_markdown()
    assert "\x1b" not in markdown
    assert "[@click=app.quit] handle [/b] and [TODO] in tracker" in markdown
    assert "dark mode" not in markdown
    assert "Update README" in markdown and "Fix typo in login page" in markdown
    data = json.loads(json.dumps(notes.to_dict()))
    assert len(data["commits"]) == len(collect_commits(demo.path, "v1.3.0", "develop"))
    assert {c["section"] for c in data["commits"] if c["pr"] == 41} == {"features"}
    assert all(set(c) >= {"sha", "subject", "section", "pr"} for c in data["commits"])
    reverted = [c for c in data["commits"] if c["section"] == "reverted"]
    assert len(reverted) == 2


def test_collect_commits_reads_fields_and_empty_ranges(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path)
    assert collect_commits(demo.path, "develop", "develop") == []
    everything = collect_commits(demo.path, None, "v1.2.0")
    assert [c.subject for c in everything] == [
        "fix: login redirect loop (#15)", "feat: job tracker board (#12)", "Initial commit"]
    assert everything[0].parents == (everything[1].sha,) and everything[-1].parents == ()
    assert everything[0].author == "Chen Wei" and everything[0].timestamp > 0
