"""Release notes on real-shaped histories built with fast-import: a long-lived branch merged
with --no-ff, squash merges, bump commits, tag ranges, scopes, pull requests without titles."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from shipdeck.core.notes import notes_for_range

from history_builder import Stream, build_history, long_lived_branch


def _long_lived(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    counts: dict[str, int] = {}

    def write(stream: Stream) -> None:
        counts.update(long_lived_branch(stream))

    return build_history(tmp_path / "repo", write), counts


def test_a_long_lived_branch_keeps_its_conventional_commits(tmp_path: Path) -> None:
    repo, counts = _long_lived(tmp_path)
    notes = notes_for_range(repo, "v1.0.0", "v2.0.0")
    # Each conventional commit of the branch is its own entry, in its own section.
    assert len(notes.section("features")) == counts["feat(api)"]
    assert len(notes.section("fixes")) == counts["fix"] + 1  # and the hotfix made on main
    assert len(notes.section("improvements")) == counts["refactor(core)"]
    assert len(notes.section("other")) == counts["docs"]
    (breaking,) = notes.section("breaking")  # the footer applies to its own commit only
    assert (breaking.text, breaking.scope, breaking.detail) == (
        "Entry-point plugins", "plugins", "plugins must be re-registered")
    data = notes.to_dict()
    assert [c["subject"] for c in data["commits"] if c["section"] == "breaking"] == [
        "feat(plugins): entry-point plugins"]
    assert [c["breaking"] for c in data["commits"]].count(True) == 1
    sections = {c["subject"]: c["section"] for c in data["commits"]}
    assert sections["Merge pull request #715 from org/v2"] == "merge"
    assert sections["Merge branch 'main' into v2"] == "merge"  # noise, never published
    assert sections["bump: version 1.0.0 → 2.0.0"] == "skip"
    markdown = notes.to_markdown()
    assert "Merge" not in markdown and "bump" not in markdown and "Release v2" not in markdown
    assert "- ✨ **api:** Endpoint 0 (#715)" in markdown
    assert "- 🐛 Fix: hotfix on main (#700)" not in markdown and "- 🐛 Fixed: Hotfix on main (#700)" in markdown
    assert notes.summary() == (
        f"{len(data['commits'])} commits: {counts['feat(api)']} new features, "
        f"{counts['refactor(core)']} improvements, {counts['fix'] + 1} bug fixes, 1 breaking change, "
        f"{counts['docs']} other changes")


def test_a_tag_range_is_titled_by_the_tag_and_its_date(tmp_path: Path) -> None:
    repo, _ = _long_lived(tmp_path)
    tagged = subprocess.run(["git", "-C", str(repo), "for-each-ref", "--format=%(creatordate:short)",
                             "refs/tags/v2.0.0"], capture_output=True, text=True, check=True).stdout.strip()
    notes = notes_for_range(repo, "v1.0.0", "v2.0.0")
    assert notes.date == dt.date.fromisoformat(tagged) != dt.date.today()
    cli = [sys.executable, "-m", "shipdeck.tui.cli", "notes", "--from", "v1.0.0", "--to", "v2.0.0"]
    shown = subprocess.run(cli, cwd=repo, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    day = dt.date.fromisoformat(tagged)
    assert shown.stdout.startswith(f"# v2.0.0 ({day:%B} {day.day}, {day.year})\n")
    as_json = json.loads(subprocess.run([*cli, "--format", "json"], cwd=repo, capture_output=True,
                                        text=True, timeout=60).stdout)
    assert (as_json["tag"], as_json["version"], as_json["date"]) == ("v2.0.0", "2.0.0", tagged)
    branch = subprocess.run([*cli[:-1], "main"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert branch.stdout.startswith("# Unreleased (")  # a branch is not a release yet


def _squash_and_merges(stream: Stream) -> None:
    stream.commit("main", "Initial commit\n", {"a": "0\n"})
    stream.commit("main", "feat(api): paginate /jobs (#12)\n", {"a": "1\n"})
    stream.commit("main", "feat(search): deprecate the legacy=1 parameter (#13)\n", {"a": "2\n"})
    stream.commit("main", "Deprecate the v1 client\n", {"a": "3\n"})
    stream.commit("main", "chore(release): 1.1.0\n", {"a": "4\n"})
    stream.commit("main", "Bump version: 1.0.0 → 1.1.0\n", {"a": "5\n"})
    stream.commit("topic", "wip\n", {"b": "1\n"}, start_from="main")
    stream.commit("topic", "fix(email): send once on retry\n", {"b": "2\n"})
    stream.commit("main", "Merge pull request #430 from org/topic\n", merge="topic")  # no body
    stream.commit("other", "tidy things\n", {"c": "1\n"}, start_from="main")
    stream.commit("main", "Merge pull request #431 from org/other\n", merge="other")


def test_squash_merges_scopes_deprecations_and_bumps(tmp_path: Path) -> None:
    repo = build_history(tmp_path / "repo", _squash_and_merges)
    notes = notes_for_range(repo, None, "main")
    (feature,) = notes.section("features")
    assert (feature.text, feature.scope, feature.pr) == ("Paginate /jobs (#12)", "api", 12)
    assert feature.to_markdown() == "**api:** Paginate /jobs (#12)"
    assert [e.text for e in notes.section("deprecations")] == [
        "Deprecate the v1 client", "Deprecate the legacy=1 parameter (#13)"]
    sections = {c.subject: c.section for c in notes.commits}
    assert sections["chore(release): 1.1.0"] == sections["Bump version: 1.0.0 → 1.1.0"] == "skip"
    markdown = notes.to_markdown()
    assert "Merge pull request" not in markdown
    # No body and no lookup: the first conventional subject inside stands in for the title.
    assert "- 🐛 **email:** Fixed: Send once on retry (#430)" in markdown
    assert "  - tidy things (#431)" in markdown  # nothing conventional inside: its first subject


def test_pull_request_titles_come_from_the_lookup_when_the_body_has_none(tmp_path: Path) -> None:
    repo = build_history(tmp_path / "repo", _squash_and_merges)
    asked: list[list[int]] = []

    def lookup(numbers: Sequence[int]) -> Mapping[int, str]:
        asked.append(sorted(numbers))
        return {430: "fix: emails sent twice on retry"}  # 431 unknown to the lookup

    notes = notes_for_range(repo, None, "main", pr_titles=lookup)
    assert asked == [[430, 431]]  # one call for every pull request without a body title
    by_pr = {e.pr: e for e in notes.entries if e.pr in (430, 431)}
    assert (by_pr[430].section, by_pr[430].text) == ("fixes", "Emails sent twice on retry")
    assert by_pr[431].text == "tidy things"


def test_a_release_branch_of_pull_requests_of_one_type_keeps_each(tmp_path: Path) -> None:
    def write(stream: Stream) -> None:
        stream.commit("main", "Initial commit\n", {"a": "0\n"})
        for number in (601, 602, 603):
            stream.commit("v3", f"feat(cli): option {number} (#{number})\n", {"b": f"{number}\n"},
                          start_from="main")
        stream.commit("main", "Merge pull request #715 from org/v3\n\nRelease v3\n", merge="v3")
        stream.commit("topic", "feat(copilot): part 1\n", {"c": "1\n"}, start_from="main")
        stream.commit("topic", "feat(copilot): part 2\n", {"c": "2\n"})
        stream.commit("main", "Merge pull request #716 from org/topic\n\nAI Copilot\n", merge="topic")

    repo = build_history(tmp_path / "repo", write)
    notes = notes_for_range(repo, None, "main")
    assert [(e.text, e.pr) for e in notes.section("features")] == [
        ("AI Copilot", 716),  # a feature branch: one change, titled by its pull request
        ("Option 603 (#603)", 603), ("Option 602 (#602)", 602), ("Option 601 (#601)", 601)]


def test_keeping_the_release_notes_up_to_date_is_bookkeeping_not_a_change(tmp_path: Path) -> None:
    def write(stream: Stream) -> None:
        stream.commit("main", "Initial commit\n", {"a": "0\n"})
        stream.commit("main", "📝 Update release notes\n", {"a": "1\n"})
        stream.commit("main", "Update changelog\n", {"a": "2\n"})
        stream.commit("main", "📝 Update docs for the release notes page (#12)\n", {"a": "3\n"})

    notes = notes_for_range(build_history(tmp_path / "repo", write), None, "main")
    sections = {c.subject: c.section for c in notes.commits}
    assert sections["📝 Update release notes"] == sections["Update changelog"] == "skip"
    assert sections["📝 Update docs for the release notes page (#12)"] == "other"
