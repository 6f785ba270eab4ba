"""Hypothesis drives random releases through the reducer and a real journal file.

Invariants after every event: the journal replays into the same state; a terminal phase is
never left; rollback is reachable while production runs the new version; a watch that saw
blind or missing data never leads to `released`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine_events import started
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from shipdeck.core.events import EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.decisions import (
    Approve,
    ConfirmManual,
    FailRelease,
    Policy,
    RequestRollback,
    RunStep,
    SkipStep,
    next_actions,
)
from shipdeck.core.machine import apply, current_step, fold, phase_of, rollback_availability
from shipdeck.core.watching import watch_verdict
from shipdeck.core.model import Group, Health, Phase, ReleaseType, StepKind, StepStatus

SERIES = ("error_rate", "p95_latency", "queue_depth")
ROLES = {"engineering-manager": ["alice"], "cto": ["alice"], "on-call": ["alice"], "product": ["alice"]}


class ReleaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.journal = Journal(Path(self.folder.name) / "r.jsonl")
        self.at = 1000.0
        # The test's own oracle of blindness in the running watch (the spec, written again).
        self.blind_during_watch: set[str] = set()
        self.blind_when_watch_passed: set[str] = set()
        self.last_poll: dict[str, float] = {}
        self.last_data: dict[str, float] = {}

    def teardown(self) -> None:
        self.journal.close()
        self.folder.cleanup()

    def emit(self, kind: EventKind, **data) -> None:
        self.at += 1.0
        previous_phase = phase_of(self.state) if self.state.started else None
        event = self.journal.append(kind, data, self.at)
        self.state = apply(self.state, event)
        if previous_phase is not None and previous_phase.terminal:
            assert phase_of(self.state) is previous_phase, f"left terminal {previous_phase} on {kind}"

    @initialize(release_type=st.sampled_from(list(ReleaseType)), auto=st.booleans())
    def start(self, release_type: ReleaseType, auto: bool) -> None:
        from shipdeck.core.machine import Release

        self.state = Release()
        event = started(release_type)
        self.journal.append(event.kind, dict(event.data), self.at)
        self.state = apply(self.state, event)
        self.policy = Policy(auto=auto, assume_yes=True, identity="alice", roles=ROLES)

    @rule(outcomes=st.lists(st.sampled_from(["pass"] * 8 + ["fail", "wait"]), min_size=1, max_size=6))
    def advance(self, outcomes: list[str]) -> None:
        """Do what the reducer asks a few times, with a random outcome for each step run."""
        for outcome in outcomes:
            self.advance_once(outcome)

    def advance_once(self, outcome: str) -> None:
        for action in next_actions(self.state, self.policy):
            if isinstance(action, SkipStep):
                self.emit(EventKind.STEP_SKIPPED, step=action.step, reason=action.reason)
            elif isinstance(action, Approve):
                self.emit(EventKind.APPROVAL_GRANTED, step=action.step, by=action.by, role=action.role)
            elif isinstance(action, ConfirmManual):
                self.emit(EventKind.STEP_PASSED, step=action.step, summary="confirmed")
            elif isinstance(action, RequestRollback):
                self.emit(EventKind.ROLLBACK_REQUESTED, by="auto", reason=action.reason, target="v1.3.0", automatic=True)
            elif isinstance(action, FailRelease):
                self.emit(EventKind.RELEASE_FAILED, reason=action.reason)
            elif isinstance(action, RunStep):
                self.run_step(action.step, outcome)

    def run_step(self, step_id: str, outcome: str) -> None:
        step = self.state.step(step_id)
        if step.spec.kind is not StepKind.AUTOMATIC:
            self.emit(EventKind.STEP_WAITING, step=step_id, reason="needs a person")
            return
        if step.spec.action in ("watch", "post_watch"):
            if step.status is not StepStatus.RUNNING or self.state.watch(step_id) is None:
                self.emit(EventKind.STEP_STARTED, step=step_id)
                self.emit(EventKind.WATCH_STARTED, step=step_id, duration=120.0, at=self.at + 1.0)
                self.blind_during_watch = set()
                self.last_poll = {name: self.at for name in SERIES}
                self.last_data = dict(self.last_poll)
            verdict = watch_verdict(self.state, step_id)
            if not verdict.finished:
                return  # samples move it on
            if verdict.healthy and outcome == "pass" and step_id == "watch":
                self.blind_when_watch_passed = set(self.blind_during_watch)
            if verdict.healthy and outcome == "pass":
                self.emit(EventKind.STEP_PASSED, step=step_id, summary=verdict.text)
            else:
                self.emit(EventKind.STEP_WAITING, step=step_id, reason=verdict.text)
            return
        self.emit(EventKind.STEP_STARTED, step=step_id)
        if outcome == "pass":
            if step.spec.changes_production:
                target = self.state.rollback.target if step.spec.group is Group.ROLLBACK else self.state.tag
                self.emit(EventKind.PRODUCTION_CHANGED, version=target, step=step_id)
            self.emit(EventKind.STEP_PASSED, step=step_id, summary="ok")
        elif outcome == "fail":
            self.emit(EventKind.STEP_FAILED, step=step_id, summary="red")
        else:
            self.emit(EventKind.STEP_WAITING, step=step_id, reason="blocked")

    @rule(series=st.sampled_from(SERIES), value=st.one_of(st.none(), st.floats(0, 5000)), gap=st.floats(0.5, 90))
    def sample(self, series: str, value: float | None, gap: float) -> None:
        self.at += gap
        at = self.at + 1.0  # emit() advances the clock by one more second
        step = current_step(self.state)
        watching = step is not None and step.status is StepStatus.RUNNING and self.state.watch(step.id) is not None
        if watching:
            blind_after = self.state.watch_policy.blind_after
            if at - self.last_poll[series] > blind_after or (value is None and at - self.last_data[series] >= blind_after):
                self.blind_during_watch.add(series)
            if at - max(self.last_poll.values()) > blind_after:
                self.blind_during_watch.add("*")  # nothing at all was observed for that long
            self.last_poll[series] = at
            if value is not None:
                self.last_data[series] = at
        self.emit(EventKind.SAMPLE, series=series, at=at, value=value)

    @rule(typed=st.sampled_from(["v1.3.0", "v1.4.0"]))
    def person_rolls_back(self, typed: str) -> None:
        if rollback_availability(self.state)[0]:
            self.emit(EventKind.ROLLBACK_REQUESTED, by="alice", reason="captain's call", target="v1.3.0")

    @rule()
    def person_waives(self) -> None:
        step = current_step(self.state)
        if step is not None and step.status in (StepStatus.WAITING, StepStatus.FAILED) and step.spec.kind is not StepKind.APPROVAL:
            if step.spec.action in ("watch", "post_watch"):
                self.blind_during_watch.clear()  # a person looked and took responsibility
            if not step.spec.changes_production:
                self.emit(EventKind.STEP_WAIVED, step=step.id, by="alice", reason="checked by hand")

    @rule(roll=st.integers(0, 19))
    def person_aborts(self, roll: int) -> None:
        if roll == 0:  # rare, or no release would ever get far
            self.emit(EventKind.RELEASE_ABORTED, by="alice", reason="not today")

    @rule()
    def person_retries(self) -> None:
        step = current_step(self.state)
        if step is not None and step.status in (StepStatus.WAITING, StepStatus.FAILED):
            if step.spec.action in ("watch", "post_watch"):
                self.blind_during_watch.clear()
            self.emit(EventKind.STEP_RETRIED, step=step.id, by="alice")

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        assert fold(Journal(self.journal.path).load(repair=False)) == self.state

    @invariant()
    def rollback_reachable_while_new_version_runs(self) -> None:
        phase = phase_of(self.state)
        if self.state.production_runs_new_version and not phase.terminal and phase is not Phase.ROLLING_BACK:
            assert rollback_availability(self.state)[0]

    @invariant()
    def blind_watch_never_releases(self) -> None:
        if phase_of(self.state) in (Phase.RELEASED, Phase.FINALIZE, Phase.DONE):
            watch = self.state.step("watch")
            assert watch.status is StepStatus.WAIVED or (
                watch.status is StepStatus.PASSED and not self.blind_when_watch_passed
            ), f"released after a blind watch: {self.blind_when_watch_passed}"


ReleaseMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestReleaseMachine = ReleaseMachine.TestCase
