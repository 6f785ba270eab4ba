"""The ledger: what production runs and which release was healthy, from real journal files.

Each journal is written through `Journal.append` in a real store folder, event by event as
the runner journals them, and the reducer decides how each release ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_events import PRE_STEPS, SERIES, config

from shipdeck.core.events import EventKind
from shipdeck.core.journal import Journal, JournalCorrupt
from shipdeck.core.ledger import NEVER_DEPLOYED, Ledger
from shipdeck.core.machine import fold, phase_of
from shipdeck.core.model import Phase, ReleaseType
from shipdeck.core.plan import build_plan, rollback_plan
from shipdeck.core.store import Store

POST_STEPS = ("post.watch", "post.notes", "post.merge")


class Writer:
    """One release journal in `store`, written as the runner would write it."""

    def __init__(self, store: Store, tag: str, previous: str, at: float, *, production: str = "", rollback: dict | None = None) -> None:
        self.tag = tag
        self.previous = previous
        self.at = at
        self.id = store.next_release_id(at, f"{tag}-rollback" if rollback else tag)
        self.journal = Journal(store.journal_path(self.id))
        plan = rollback_plan() if rollback else build_plan(ReleaseType.REGULAR, config())
        data = {
            "id": self.id,
            "version": tag.lstrip("v"),
            "tag": tag,
            "type": "rollback" if rollback else "regular",
            "environment": "production",
            "previous_tag": previous,
            "branch": "" if rollback else f"release/{tag}",
            "captain": "alice",
            "plan": [s.to_dict() for s in plan],
            "series": [s.to_dict() for s in SERIES],
            "watch": {"breach_for": 120.0, "blind_after": 60.0},
            "production_version": production,
            "settings": {},
        }
        if rollback:
            data["rollback"] = {"by": "alice", "target": previous, "from_version": tag, "automatic": False, **rollback}
        self.add(EventKind.RELEASE_STARTED, **data)

    def add(self, kind: EventKind, **data: object) -> Writer:
        self.at += 1.0
        self.journal.append(kind, data, self.at)
        return self

    def pass_steps(self, *steps: str) -> Writer:
        for step in steps:
            self.add(EventKind.STEP_STARTED, step=step).add(EventKind.STEP_PASSED, step=step, summary="ok")
        return self

    def deploy(self, step: str, version: str, *, outcome: str | None = "done") -> Writer:
        key = f"{self.id}:{step}:1"
        self.add(EventKind.STEP_STARTED, step=step)
        self.add(EventKind.INTENT, key=key, step=step, action="deploy", params={"tag": version})
        if outcome is None:
            return self  # killed mid-deploy: the outcome was never journaled
        if outcome == "done":
            self.add(EventKind.PRODUCTION_CHANGED, version=version, step=step)
            self.add(EventKind.OUTCOME, key=key, status="done", result={"production_changed": True})
            return self.add(EventKind.STEP_PASSED, step=step, summary=f"{version} live")
        self.add(EventKind.OUTCOME, key=key, status="failed", result={"error": "the deploy system said no"})
        return self.add(EventKind.STEP_FAILED, step=step, summary="the deploy system said no")

    def to_production(self) -> Writer:
        self.pass_steps(*PRE_STEPS)
        self.add(EventKind.APPROVAL_GRANTED, step="approval", by="alice", role="engineering-manager")
        self.pass_steps("cut", "image", "announce.deploy")
        return self.deploy("deploy", self.tag)

    def healthy(self) -> Writer:
        return self.to_production().pass_steps("verify.smoke", "watch", "announce.success", *POST_STEPS).close(Phase.DONE)

    def rolled_back(self, reason: str = "smoke failed") -> Writer:
        self.to_production()
        self.add(EventKind.STEP_STARTED, step="verify.smoke").add(EventKind.STEP_FAILED, step="verify.smoke", summary="login failed")
        self.add(EventKind.ROLLBACK_REQUESTED, by="shipdeck (auto)", reason=reason, target=self.previous, automatic=True)
        return self.roll_back_steps()

    def roll_back_steps(self) -> Writer:
        self.pass_steps("rollback.announce")
        return self.deploy("rollback.deploy", self.previous).pass_steps("rollback.smoke", "rollback.done").close(Phase.ROLLED_BACK)

    def close(self, phase: Phase | None = None) -> Writer:
        self.journal.close()
        if phase is not None:
            assert phase_of(fold(Journal(self.journal.path).load(repair=False))) is phase
        return self


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state" / "demo-product-0123456789" / "production")


def _ledger(store: Store) -> Ledger:
    return Ledger.from_store(store)


def test_no_journal_means_production_is_unknown_and_nothing_was_healthy(store: Store) -> None:
    ledger = _ledger(store)
    assert ledger.production() is None
    assert ledger.production_unknown_reason() == NEVER_DEPLOYED
    assert ledger.last_healthy() is None
    assert ledger.finished_tags() == frozenset() and ledger.published() == ()


def test_a_healthy_release_is_what_production_runs_and_the_last_healthy_one(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    ledger = _ledger(store)
    assert ledger.production() == "v1.4.0" and ledger.production_unknown_reason() == ""
    assert ledger.last_healthy() == "v1.4.0"
    # before shipdeck's records begin, the first release's previous release (from the tags) counts
    assert ledger.last_healthy(before="v1.4.0") == "v1.3.0"
    assert ledger.last_healthy(before="1.3.0") is None
    assert ledger.finished_tags() == {"v1.4.0"}
    assert [e.tag for e in ledger.published()] == ["v1.4.0"]
    (entry,) = ledger.releases()
    assert entry.healthy and entry.phase is Phase.DONE and entry.ended_at is not None and entry.production_after == "v1.4.0"


def test_a_release_rolled_back_in_its_own_journal_is_never_the_previous_release(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    Writer(store, "v1.5.0", "v1.4.0", 2000.0, production="v1.4.0").rolled_back()
    ledger = _ledger(store)
    assert ledger.production() == "v1.4.0"
    assert ledger.last_healthy() == "v1.4.0"
    assert ledger.finished_tags() == {"v1.4.0", "v1.5.0"}
    assert [e.tag for e in ledger.published()] == ["v1.4.0"]
    rolled = ledger.releases()[1]
    assert rolled.rolled_back and not rolled.healthy and rolled.rollback and rolled.rollback.reason == "smoke failed"


def test_a_failed_release_changes_nothing_but_is_finished(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    failed = Writer(store, "v1.5.0", "v1.4.0", 2000.0, production="v1.4.0")
    failed.pass_steps(*PRE_STEPS).add(EventKind.APPROVAL_GRANTED, step="approval", by="alice", role="engineering-manager")
    failed.pass_steps("cut", "image", "announce.deploy").deploy("deploy", "v1.5.0", outcome="failed")
    failed.add(EventKind.RELEASE_FAILED, reason="Deploy to production failed").close(Phase.FAILED)
    ledger = _ledger(store)
    assert ledger.production() == "v1.4.0"
    assert ledger.last_healthy() == "v1.4.0"
    assert "v1.5.0" in ledger.finished_tags()
    assert not ledger.releases()[1].healthy


def test_a_deploy_whose_outcome_was_never_journaled_makes_production_unknown(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    killed = Writer(store, "v1.5.0", "v1.4.0", 2000.0, production="v1.4.0")
    killed.pass_steps(*PRE_STEPS).add(EventKind.APPROVAL_GRANTED, step="approval", by="alice", role="engineering-manager")
    killed.pass_steps("cut", "image", "announce.deploy").deploy("deploy", "v1.5.0", outcome=None).close()
    ledger = _ledger(store)
    assert ledger.production() is None
    assert "outcome of a deploy in v1.5.0" in ledger.production_unknown_reason()
    assert ledger.finished_tags() == {"v1.4.0"}  # still active: not finished
    assert ledger.last_healthy() == "v1.4.0"


def test_a_release_that_never_deployed_leaves_production_unknown(store: Store) -> None:
    failed = Writer(store, "v1.4.0", "v1.3.0", 1000.0)
    failed.pass_steps(*PRE_STEPS).add(EventKind.RELEASE_FAILED, reason="aborted by test").close()
    ledger = _ledger(store)
    assert ledger.production() is None and ledger.production_unknown_reason() == NEVER_DEPLOYED
    assert ledger.last_healthy() == "v1.3.0"  # from the tags, as the release planned it


def test_a_rollback_journal_takes_its_release_out_and_production_back(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    Writer(store, "v1.5.0", "v1.4.0", 2000.0, production="v1.4.0").healthy()
    rollback = Writer(store, "v1.5.0", "v1.4.0", 3000.0, production="v1.5.0", rollback={"reason": "support queue on fire"})
    assert phase_of(fold(Journal(rollback.journal.path).load())) is Phase.ROLLING_BACK  # from its first line
    rollback.roll_back_steps()
    ledger = _ledger(store)
    assert ledger.production() == "v1.4.0"
    assert ledger.last_healthy() == "v1.4.0"
    assert [e.tag for e in ledger.published()] == ["v1.4.0"]
    released, rolled_back, journal = ledger.releases()
    assert released.healthy
    assert rolled_back.phase is Phase.DONE and rolled_back.rolled_back and rolled_back.rolled_back_by == rollback.id
    assert journal.is_rollback and journal.phase is Phase.ROLLED_BACK and journal.rollback.reason == "support queue on fire"
    assert ledger.finished_tags() == {"v1.4.0", "v1.5.0"}


def test_a_rollback_past_several_releases_takes_all_of_them_out(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    Writer(store, "v1.5.0", "v1.4.0", 2000.0, production="v1.4.0").healthy()
    Writer(store, "v1.6.0", "v1.5.0", 3000.0, production="v1.5.0").healthy()
    Writer(store, "v1.6.0", "v1.4.0", 4000.0, production="v1.6.0", rollback={"reason": "data loss"}).roll_back_steps()
    ledger = _ledger(store)
    assert ledger.production() == "v1.4.0"
    assert ledger.healthy_tags() == ["v1.4.0", "v1.3.0"]
    assert [e.tag for e in ledger.releases() if e.rolled_back] == ["v1.5.0", "v1.6.0"]


def test_a_rollback_to_the_release_before_the_records_began(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    Writer(store, "v1.4.0", "v1.3.0", 2000.0, production="v1.4.0", rollback={"reason": "checkout broken"}).roll_back_steps()
    ledger = _ledger(store)
    assert ledger.production() == "v1.3.0"
    assert ledger.last_healthy() == "v1.3.0"
    assert ledger.last_healthy(before="v1.3.0") is None
    assert ledger.published() == ()


def test_journals_killed_before_their_first_line_are_ignored(store: Store) -> None:
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    store.releases_dir.joinpath("20990101T000000-v1.5.0.jsonl").write_bytes(b'{"seq":1,"at":')
    ledger = _ledger(store)
    assert [e.tag for e in ledger.releases()] == ["v1.4.0"] and ledger.production() == "v1.4.0"
    assert store.latest()[2].tag == "v1.4.0" and store.active() is None


def test_a_damaged_journal_is_reported_not_skipped(store: Store) -> None:
    writer = Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    lines = writer.journal.path.read_bytes().splitlines(keepends=True)
    assert b'"summary":"ok"' in lines[2]
    writer.journal.path.write_bytes(b"".join(lines[:2] + [lines[2].replace(b'"ok"', b'"OK"')] + lines[3:]))
    with pytest.raises(JournalCorrupt) as caught:
        _ledger(store)
    assert caught.value.line == 3


def test_new_ids_sort_after_every_journal_even_in_the_same_second(store: Store) -> None:
    first = Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    second = store.next_release_id(1000.0, "v1.4.0-rollback")
    assert second > first.id and f"{second}.jsonl" > store.journals()[-1].name
    assert second.startswith("19700101T001641-")


# -- the deploy system's restore point ------------------------------------------------------------


def _observed(writer: Writer, version: str | None, arn: str) -> Writer:
    return writer.add(EventKind.PRODUCTION_OBSERVED, step="deploy", version=version, detail="ecs", restore={"task_definition": arn})


def test_a_rollback_returns_to_the_restore_point_journaled_before_the_release_it_undoes(store: Store) -> None:
    from shipdeck.core.runner.release_day import restore_point

    Writer(store, "v1.3.0", "v1.2.0", 1000.0).healthy()
    second = Writer(store, "v1.4.0", "v1.3.0", 2000.0)
    _observed(second.pass_steps(*PRE_STEPS), "v1.3.0", "arn:web:13").to_production()
    second.pass_steps("verify.smoke", "watch", "announce.success", *POST_STEPS).close(Phase.DONE)
    ledger = _ledger(store)

    assert ledger.restore_point("v1.4.0", "v1.3.0") == {"task_definition": "arn:web:13"}
    assert ledger.restore_point("v1.4.0", "v1.2.0") == {}  # --to an older release: no exact pointer to it
    assert ledger.restore_point("v1.3.0", "v1.2.0") == {}  # nothing was observed before v1.3.0

    # In the release itself: a breach rolls back to what was running, exactly.
    third = Writer(store, "v1.5.0", "v1.4.0", 3000.0)
    _observed(third.pass_steps(*PRE_STEPS), None, "arn:web:14").to_production()
    third.add(EventKind.ROLLBACK_REQUESTED, by="shipdeck (auto)", reason="breach", target="v1.4.0", automatic=True)
    state = fold(Journal(third.journal.path).load(repair=False))
    assert state.observed_before is not None and state.observed_before.version is None
    assert restore_point(state, "v1.4.0") == {"task_definition": "arn:web:14"}  # unknown version, the previous release
    assert restore_point(state, "v1.3.0") == {}


def test_only_the_first_observation_counts_and_a_rollback_journal_carries_its_restore_point(store: Store) -> None:
    from shipdeck.core.runner.release_day import restore_point

    writer = Writer(store, "v1.4.0", "v1.3.0", 1000.0)
    _observed(_observed(writer, "v1.3.0", "arn:first"), "v1.4.0", "arn:second")
    state = fold(Journal(writer.journal.path).load(repair=False))
    assert state.observed_before is not None and state.observed_before.restore == {"task_definition": "arn:first"}

    rollback = Writer(store, "v1.4.0", "v1.3.0", 2000.0, production="v1.4.0", rollback={"reason": "by hand", "restore": {"task_definition": "arn:first"}})
    state = fold(Journal(rollback.journal.path).load(repair=False))
    assert restore_point(state, "v1.3.0") == {"task_definition": "arn:first"}


def _ramp(store: Store, at: float, stages: list[tuple[str, str]], *, live: str = "") -> None:
    """A `shipdeck ramp` journal (tag "", no previous release) that moved the flag through `stages` (from, to)."""
    release_id = store.next_release_id(at, "ramp-ai-copilot")
    journal = Journal(store.journal_path(release_id))
    journal.append(EventKind.RELEASE_STARTED, {
        "id": release_id, "version": live, "tag": "", "type": "ramp", "environment": "production", "previous_tag": "",
        "captain": "alice", "plan": [], "series": [], "watch": {}, "production_version": live, "settings": {},
    }, at)
    for offset, (came_from, stage) in enumerate(stages, start=1):
        state = {"flag": "ai-copilot", "enabled": stage != "off", "team": stage != "off", "percent": int(stage.rstrip("%")) if stage.endswith("%") else 0, "version": str(offset)}
        journal.append(EventKind.FLAG_CHANGED, {"flag": "ai-copilot", "stage": stage, "state": state, "step": "s", "from": came_from}, at + offset)
    journal.close()


def test_a_ramp_alone_before_the_first_release_keeps_the_tags_baseline(store: Store) -> None:
    _ramp(store, 900.0, [("off", "team")])
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    ledger = _ledger(store)
    assert ledger.last_healthy(before="v1.4.0") == "v1.3.0"  # a rollback of v1.4.0 has somewhere to go
    assert ledger.production() == "v1.4.0"


def test_flags_are_gathered_across_journals_and_those_changed_while_a_version_ran_turn_back(store: Store) -> None:
    _ramp(store, 900.0, [("off", "team")])  # before v1.4.0 went live: not v1.4.0's to turn back
    Writer(store, "v1.4.0", "v1.3.0", 1000.0).healthy()
    _ramp(store, 2000.0, [("team", "10%"), ("10%", "100%")], live="v1.4.0")
    ledger = _ledger(store)
    assert ledger.flags()["ai-copilot"]["stage"] == "100%"
    assert ledger.flags_to_turn_back("v1.4.0")["ai-copilot"]["from"] == "team"  # where v1.4.0's time found it
    _ramp(store, 3000.0, [("100%", "team")], live="v1.4.0")  # a person moved it back by hand
    ledger = _ledger(store)
    assert ledger.flags()["ai-copilot"]["stage"] == "team"
    assert ledger.flags_to_turn_back("v1.4.0") == {}
