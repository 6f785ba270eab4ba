"""The reducer: phases from steps, approvals, watching, rollback, and what to do next."""

from __future__ import annotations

import pytest
from engine_events import PRE_STEPS, Script

from shipdeck.core.events import EventKind
from shipdeck.core.exit_codes import ExitCode, exit_code_for
from shipdeck.core.decisions import Approve, FailRelease, Policy, RequestRollback, RunStep, next_actions
from shipdeck.core.machine import fold, phase_of, rollback_availability
from shipdeck.core.watching import observe
from shipdeck.core.model import Health, Phase, ReleaseType, SeriesHealth, SeriesSpec, StepStatus, WatchPolicy

ROLES = {"engineering-manager": ["alice"], "cto": ["carol"], "product": ["erin"]}


def test_a_fresh_release_is_in_preflight_and_runs_its_first_step() -> None:
    state = fold(Script().events)
    assert phase_of(state) is Phase.PREFLIGHT
    assert next_actions(state, Policy()) == [RunStep("preflight.window")]


@pytest.mark.parametrize(
    ("passed", "phase"),
    [
        (PRE_STEPS, Phase.PREFLIGHT),  # approval still open
        (PRE_STEPS + ("approval",), Phase.CUT),
        (PRE_STEPS + ("approval", "cut"), Phase.IMAGE),
        (PRE_STEPS + ("approval", "cut", "image"), Phase.DEPLOY),
        (PRE_STEPS + ("approval", "cut", "image", "announce.deploy", "deploy"), Phase.VERIFY),
        (PRE_STEPS + ("approval", "cut", "image", "announce.deploy", "deploy", "verify.smoke"), Phase.WATCH),
        (PRE_STEPS + ("approval", "cut", "image", "announce.deploy", "deploy", "verify.smoke", "watch", "announce.success"), Phase.RELEASED),
        (
            PRE_STEPS
            + ("approval", "cut", "image", "announce.deploy", "deploy", "verify.smoke", "watch", "announce.success", "post.watch"),
            Phase.FINALIZE,
        ),
        (
            PRE_STEPS
            + ("approval", "cut", "image", "announce.deploy", "deploy", "verify.smoke", "watch", "announce.success", "post.watch", "post.notes", "post.merge"),
            Phase.DONE,
        ),
    ],
)
def test_phase_follows_the_first_unfinished_step(passed: tuple[str, ...], phase: Phase) -> None:
    script = Script()
    for step in passed:
        if step == "approval":
            script.add(EventKind.APPROVAL_GRANTED, step="approval", by="alice", role="engineering-manager")
        else:
            script.pass_steps(step)
    assert phase_of(fold(script.events)) is phase


def test_major_release_needs_every_role() -> None:
    script = Script(ReleaseType.MAJOR).pass_steps(*PRE_STEPS)
    script.add(EventKind.STEP_WAITING, step="approval", reason="waiting")
    script.add(EventKind.APPROVAL_GRANTED, step="approval", by="carol", role="cto")
    state = fold(script.events)
    assert state.step("approval").status is StepStatus.WAITING
    assert "product" in state.step("approval").summary
    script.add(EventKind.APPROVAL_GRANTED, step="approval", by="erin", role="product")
    assert fold(script.events).step("approval").status is StepStatus.PASSED


def test_yes_approves_only_with_a_role_the_step_asks_for() -> None:
    script = Script().pass_steps(*PRE_STEPS).add(EventKind.STEP_WAITING, step="approval", reason="waiting")
    state = fold(script.events)
    assert next_actions(state, Policy(assume_yes=True, identity="alice", roles=ROLES)) == [
        Approve("approval", "alice", "engineering-manager", "--yes")
    ]
    assert next_actions(state, Policy(assume_yes=True, identity="mallory", roles=ROLES)) == []
    assert next_actions(state, Policy(assume_yes=False, identity="alice", roles=ROLES)) == []


def test_rollback_is_disabled_until_production_changes_then_available() -> None:
    script = Script().pass_steps(*PRE_STEPS)
    available, why = rollback_availability(fold(script.events))
    assert not available and "has not changed" in why
    script = Script().to_production()
    available, why = rollback_availability(fold(script.events))
    assert available and "v1.4.0" in why


def test_rollback_supersedes_open_steps_and_ends_rolled_back() -> None:
    script = Script().to_production().add(EventKind.STEP_STARTED, step="verify.smoke")
    script.add(EventKind.ROLLBACK_REQUESTED, by="alice", reason="p95 2.6s", target="v1.3.0")
    state = fold(script.events)
    assert phase_of(state) is Phase.ROLLING_BACK
    assert state.step("verify.smoke").status is StepStatus.SKIPPED
    assert next_actions(state, Policy()) == [RunStep("rollback.announce")]
    script.pass_steps("rollback.announce")
    script.add(EventKind.STEP_STARTED, step="rollback.deploy")
    script.add(EventKind.PRODUCTION_CHANGED, version="v1.3.0", step="rollback.deploy")
    script.add(EventKind.STEP_PASSED, step="rollback.deploy")
    script.pass_steps("rollback.smoke", "rollback.done")
    state = fold(script.events)
    assert phase_of(state) is Phase.ROLLED_BACK
    assert state.production_version == "v1.3.0"
    assert exit_code_for(state) is ExitCode.ROLLED_BACK


def test_a_failed_rollback_pages_and_can_be_retried() -> None:
    script = Script().to_production().add(EventKind.ROLLBACK_REQUESTED, by="alice", reason="x", target="v1.3.0")
    script.pass_steps("rollback.announce").add(EventKind.STEP_STARTED, step="rollback.deploy")
    script.add(EventKind.STEP_FAILED, step="rollback.deploy", summary="ECS said no")
    state = fold(script.events)
    assert phase_of(state) is Phase.ROLLBACK_FAILED
    assert exit_code_for(state) is ExitCode.PAGE
    assert rollback_availability(state)[0]
    script.add(EventKind.ROLLBACK_REQUESTED, by="alice", reason="retry", target="v1.3.0")
    assert phase_of(fold(script.events)) is Phase.ROLLING_BACK


def test_terminal_phase_ignores_everything_after() -> None:
    script = Script().add(EventKind.RELEASE_ABORTED, by="alice", reason="not today")
    before = fold(script.events)
    script.pass_steps("preflight.window").add(EventKind.ROLLBACK_REQUESTED, by="alice", reason="x", target="v1.3.0")
    after = fold(script.events)
    assert phase_of(after) is Phase.ABORTED
    assert after.steps == before.steps and after.rollback is None


def test_abort_is_refused_once_production_changed() -> None:
    script = Script().to_production().add(EventKind.RELEASE_ABORTED, by="alice", reason="oops")
    assert phase_of(fold(script.events)) is Phase.VERIFY


@pytest.mark.parametrize(
    ("auto", "production_changed", "expected"),
    [
        (True, False, FailRelease),
        (True, True, RequestRollback),
        (False, False, None),
        (False, True, None),
    ],
)
def test_a_failed_step_fails_or_rolls_back_only_in_auto(auto: bool, production_changed: bool, expected: type | None) -> None:
    script = Script().to_production() if production_changed else Script().pass_steps(*PRE_STEPS[:2])
    step = "verify.smoke" if production_changed else "preflight.ci"
    script.add(EventKind.STEP_STARTED, step=step).add(EventKind.STEP_FAILED, step=step, summary="red")
    actions = next_actions(fold(script.events), Policy(auto=auto))
    if expected is None:
        assert actions == []
    else:
        assert len(actions) == 1 and isinstance(actions[0], expected)


def _series(rollback_above: float | None = 5.0, warn_above: float | None = None) -> SeriesHealth:
    return SeriesHealth(spec=SeriesSpec("error_rate", "%", 1.0, warn_above, rollback_above))


POLICY = WatchPolicy(breach_for=120.0, blind_after=60.0)


def _feed(samples: list[tuple[float, float | None]], health: SeriesHealth | None = None) -> SeriesHealth:
    health = health or _series()
    for at, value in samples:
        health = observe(health, at, value, POLICY)
    return health


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([(0, 0.4), (10, 0.5)], Health.OK),
        ([(0, 0.4), (10, 7.0)], Health.WARN),  # above the line, not yet sustained
        ([(0, 7.0), (60, 7.0), (119, 7.0)], Health.WARN),
        ([(0, 7.0), (60, 7.0), (120, 7.0)], Health.BREACH),
        ([(0, 7.0), (60, 0.5), (120, 7.0)], Health.WARN),  # a dip resets the clock
        ([(0, 0.4), (30, None)], Health.OK),  # a short gap is tolerated
        ([(0, 0.4), (30, None), (60, None)], Health.BLIND),
        ([(0, None), (59, None)], Health.UNKNOWN),
        ([(0, None), (60, None)], Health.BLIND),  # never any data: blind from the first poll
        ([(0, 0.4), (60, None), (70, 0.4)], Health.OK),
    ],
)
def test_observe(samples: list[tuple[float, float | None]], expected: Health) -> None:
    assert _feed(samples).health is expected


def test_breach_in_auto_requests_rollback_with_the_numbers() -> None:
    script = Script().to_production().add(EventKind.STEP_STARTED, step="verify.smoke")
    for at in (0, 60, 120):
        script.add(EventKind.SAMPLE, series="error_rate", at=2000.0 + at, value=7.5)
    state = fold(script.events)
    actions = next_actions(state, Policy(auto=True))
    assert len(actions) == 1 and isinstance(actions[0], RequestRollback)
    assert "error_rate 7.5% > 5%" in actions[0].reason
    assert actions[0].breaches == ("error_rate",)
    assert not any(isinstance(a, RequestRollback) for a in next_actions(state, Policy(auto=False)))


def test_exit_code_for_a_blind_watch_after_production_changed_pages() -> None:
    script = Script().to_production().pass_steps("verify.smoke").add(EventKind.STEP_STARTED, step="watch")
    script.add(EventKind.STEP_WAITING, step="watch", reason="blind")
    assert exit_code_for(fold(script.events)) is ExitCode.PAGE


def test_exit_code_waiting_for_approval() -> None:
    script = Script().pass_steps(*PRE_STEPS).add(EventKind.STEP_WAITING, step="approval", reason="waiting")
    assert exit_code_for(fold(script.events)) is ExitCode.WAITING


def test_suggested_rollback_reason_names_a_failed_check_after_the_deploy() -> None:
    from shipdeck.core.decisions import suggested_rollback_reason

    script = Script().to_production().add(EventKind.STEP_STARTED, step="verify.smoke")
    assert suggested_rollback_reason(fold(script.events)) == ""
    script.add(EventKind.STEP_FAILED, step="verify.smoke", summary="login failed: 500")
    assert suggested_rollback_reason(fold(script.events)) == "Smoke test production failed: login failed: 500"


@pytest.mark.parametrize(
    ("event", "verdict"),
    [
        ({"kind": EventKind.STEP_PASSED, "summary": "1 migration file(s), all additive"}, "additive"),
        ({"kind": EventKind.STEP_WAIVED, "by": "alice", "reason": "column unused since v1.2"}, "not-additive"),
        ({"kind": EventKind.STEP_WAITING, "reason": "1 finding"}, "unknown"),
    ],
)
def test_migration_verdict_guards_the_rollback(event: dict, verdict: str) -> None:
    from shipdeck.core.decisions import migration_verdict

    script = Script().pass_steps(*PRE_STEPS[:5])
    kind = event.pop("kind")
    script.add(EventKind.STEP_STARTED, step="preflight.migrations").add(kind, step="preflight.migrations", **event)
    found, sentence = migration_verdict(fold(script.events))
    assert found == verdict
    if verdict == "not-additive":
        assert "alice" in sentence and "v1.3.0 may fail" in sentence


def test_a_post_release_failure_never_rolls_back_a_release_announced_healthy() -> None:
    """Issue 7, defect 1: a merge conflict after "deployed successfully" waits for a person."""
    script = Script().to_production().pass_steps("verify.smoke", "watch", "announce.success", "post.watch", "post.notes")
    script.add(EventKind.STEP_STARTED, step="post.merge").add(EventKind.STEP_FAILED, step="post.merge", summary="merge conflict: CHANGELOG.md")
    state = fold(script.events)
    assert next_actions(state, Policy(auto=True)) == []
    assert exit_code_for(state) is ExitCode.WAITING
    assert rollback_availability(state)[0]  # still the captain's call
    from shipdeck.core.decisions import failed_after_production_changed, suggested_rollback_reason

    assert failed_after_production_changed(state) is None and suggested_rollback_reason(state) == ""


def test_a_rollback_keeps_failed_steps_failed_and_marks_what_never_ran() -> None:
    """Issue 7, defect 8: evidence does not disappear under "superseded by rollback"."""
    script = Script().to_production().add(EventKind.STEP_STARTED, step="verify.smoke")
    script.add(EventKind.STEP_FAILED, step="verify.smoke", summary="login failed: 500", evidence={"login": "FAILED: 500"})
    script.add(EventKind.ROLLBACK_REQUESTED, by="alice", reason="login broken", target="v1.3.0")
    state = fold(script.events)
    smoke = state.step("verify.smoke")
    assert smoke.status is StepStatus.FAILED and dict(smoke.evidence) == {"login": "FAILED: 500"}
    assert state.step("watch").status is StepStatus.SKIPPED and state.step("watch").summary == "not run: rolled back to v1.3.0"
    assert phase_of(state) is Phase.ROLLING_BACK
