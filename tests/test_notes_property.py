"""Property: every commit of a range that is not noise is published in exactly one section."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings, strategies as st

from shipdeck.core.notes import SECTIONS, Commit, build_notes

NOISE = {"skip", "merge", "reverted"}
MESSAGES = st.sampled_from([
    "feat: a", "feat(api): b", "fix: c", "fix(ui)!: d", "perf: e", "refactor(core): f",
    "docs: g", "chore(deps): h", "test: i", "bump: version 1.0.0 → 1.1.0", "deprecate: j",
    "feat(search): deprecate k", "Add l", "Fix m", "Update n", "wip", "✨ o", "🐛 p", "🔖 1.2.0",
    "feat: q\n\nBREAKING CHANGE: r", "Revert \"feat: a\"", "feat: s (#9)", "v1.2.3",
])
SEGMENT = st.one_of(
    st.tuples(st.just("commit"), MESSAGES),
    st.tuples(st.just("pr"), st.lists(MESSAGES, min_size=1, max_size=6),
              st.sampled_from(["", "Release v3", "feat: titled", "Fix it"]), st.booleans()),
    st.tuples(st.just("branch"), st.lists(MESSAGES, min_size=1, max_size=4)),
)


def _history(segments: list[tuple[object, ...]]) -> list[Commit]:
    """Commits newest first: a mainline of commits, pull request merges and branch merges."""
    commits: list[Commit] = []
    clock = iter(range(1_700_000_000, 1_800_000_000, 60))

    def add(message: str, parents: tuple[str, ...]) -> str:
        subject, _, body = message.partition("\n\n")
        sha = f"{len(commits) + 1:040x}"
        commits.append(Commit(sha, parents, "Ada", next(clock), subject, body))
        return sha

    tip = add("Initial commit", ())
    for number, segment in enumerate(segments, start=100):
        if segment[0] == "commit":
            tip = add(str(segment[1]), (tip,))
            continue
        messages = list(segment[1])  # type: ignore[call-overload]
        side = tip
        for index, message in enumerate(messages):
            side = add(message, (side,))
            if index == 0 and segment[0] == "pr" and segment[3]:
                side = add("Merge branch 'develop' into feature", (side, tip))
        if segment[0] == "pr":
            tip = add(f"Merge pull request #{number} from org/topic-{number}\n\n{segment[2]}".rstrip(),
                      (tip, side))
        else:
            tip = add(f"Merge branch 'topic-{number}' into develop", (tip, side))
    return sorted(commits[1:], key=lambda c: c.timestamp, reverse=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=12))
def test_every_non_noise_commit_appears_in_exactly_one_section(segments: list[tuple[object, ...]]) -> None:
    commits = _history(segments)
    notes = build_notes(commits, version="1.0.0", tag="v1.0.0", previous_tag="v0.9.0",
                        date=dt.date(2025, 1, 1))
    assert sorted(c.sha for c in notes.commits) == sorted(c.sha for c in commits)  # none dropped
    published = Counter(sha for entry in notes.entries for sha in entry.shas)
    assert all(entry.section in (*SECTIONS, "other") for entry in notes.entries)
    for note in notes.commits:
        if note.section not in NOISE:
            assert published[note.sha] == 1, (note, notes.entries)
        assert published[note.sha] <= 1
