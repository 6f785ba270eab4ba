"""The ramp in the engine: journaled flag moves, crash-and-resume, breach back-off, rollback order.

The runner is the real one, on a real journal file; the flag system is the LaunchDarkly backend
over real HTTP to the loopback fake (which counts every change that reaches it); metrics come
from a source whose error rate follows the flag's share, so a bad feature breaches at 10 %.
A crash is a SystemExit raised right after the chosen journal line is written: nothing after it
happens, as with a killed process, and a new runner resumes from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from ramp_support import FLAG, Crash, RecordingNotifier, ramp_config, ramp_plan, run_ramp, start

from fakes.launchdarkly_fake import FakeLaunchDarkly
from shipdeck.core.events import Event, EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Group, Phase, StepKind, StepSpec, StepStatus
from shipdeck.core.plan import rollback_plan
from shipdeck.core.providers.base import DeployResult, MetricPoint
from shipdeck.core.providers.launchdarkly import LaunchDarklyFlags
from shipdeck.core.secrets import Secret

TOKEN = "api-ramp-test"


class FlagAwareMetrics:
    """Error rate as users would cause it: `bad_from` % of traffic on the feature breaks things."""

    def __init__(self, fake: FakeLaunchDarkly, bad_from: int | None) -> None:
        self.fake, self.bad_from = fake, bad_from

    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        env = self.fake.environment(FLAG)
        rollout = env["fallthrough"].get("rollout")
        share = next((v["weight"] for v in rollout["variations"] if v["variation"] == 0), 0) / 1000 if rollout else 0
        bad = env["on"] and self.bad_from is not None and share >= self.bad_from
        return [MetricPoint(name, now, 12.0 if bad else 0.5) for name in series]


class RecordingDeployer:
    """Records, at each deploy, whether the flag was still on at the flag system."""

    def __init__(self, fake: FakeLaunchDarkly) -> None:
        self.fake = fake
        self.deploys: list[tuple[str, bool]] = []

    async def deploy(self, tag: str, key: str, on_progress: Any, restore: Any = None) -> DeployResult:
        self.deploys.append((tag, bool(self.fake.environment(FLAG)["on"])))
        return DeployResult(tag, True, f"{tag} live")

    async def reconcile(self, tag: str, key: str, on_progress: Any) -> DeployResult | None:
        return None


@pytest.fixture
def fake() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag(FLAG)
        yield server


def _config(tmp_path: Path, fake: FakeLaunchDarkly, watch: str = "15m") -> Any:
    return ramp_config(tmp_path, {"provider": "launchdarkly", "url": fake.url}, watch)


def _run(path: Path, config: Any, fake: FakeLaunchDarkly, *, bad_from: int | None = None, **options: Any) -> Any:
    def backend() -> LaunchDarklyFlags:
        return LaunchDarklyFlags(url=fake.url, token=Secret("LD_API_TOKEN", TOKEN), project="default", environment="production")

    return run_ramp(path, config, backend, metrics=FlagAwareMetrics(fake, bad_from), **options)


_ramp_plan = ramp_plan
_start = start


def test_a_healthy_ramp_reaches_100_and_production_records_the_flag(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    config = _config(tmp_path, fake)
    (state, lines) = _run(tmp_path / "j.jsonl", config, fake, first_events=lambda j: _start(j, config, _ramp_plan(config)))
    assert phase_of(state) is Phase.DONE
    # A new LaunchDarkly boolean flag serves true by default: the share is narrowed to 0 while
    # the flag is still off, before the team rule turns it on.
    assert [kinds for _flag, kinds in fake.changes] == [
        ["updateFallthroughVariationOrRollout"],
        ["addRule", "turnFlagOn"],
        ["updateFallthroughVariationOrRollout"],
        ["updateFallthroughVariationOrRollout"],
    ]
    assert state.flags[FLAG]["stage"] == "100%" and state.flags[FLAG]["from"] == "off"
    assert lines == 15  # per stage: the move's intent, outcome and flag_changed; the post's intent and outcome
    assert all(w.observed >= 900 for w in state.watches)  # each stage watched its whole 15 minutes


def _crash_points() -> list[int]:
    return list(range(1, 16))


@pytest.mark.parametrize("crash_after", _crash_points())
def test_crash_after_every_ramp_line_then_resume_changes_each_stage_once(tmp_path: Path, fake: FakeLaunchDarkly, crash_after: int) -> None:
    config = _config(tmp_path, fake, watch="1m")
    path = tmp_path / "j.jsonl"
    chat = RecordingNotifier()
    with pytest.raises(Crash):
        _run(path, config, fake, crash_after=crash_after, notifier=chat, first_events=lambda j: _start(j, config, _ramp_plan(config)))
    state, _ = _run(path, config, fake, notifier=chat)
    assert phase_of(state) is Phase.DONE, [(s.id, s.status, s.summary) for s in state.steps]
    assert len(fake.changes) == 4, fake.changes  # none twice, none lost (the team stage is two writes)
    assert state.flags[FLAG]["stage"] == "100%"
    assert fake.environment(FLAG)["on"] is True
    assert [text for _key, text in chat.posts] == [f"{FLAG} is at {stage} in production" for stage in ("team", "10%", "100%")]  # each once


def test_a_lost_answer_is_reconciled_by_reading_the_flag(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    """The write reached the server but its answer did not: the step fails, and nothing is written twice."""
    config = _config(tmp_path, fake, watch="1m")
    fake.fail_next_patch_after_apply = 1
    state, _ = _run(tmp_path / "j.jsonl", config, fake, first_events=lambda j: _start(j, config, _ramp_plan(config)))
    first = state.step("ramp.ai-copilot.team")
    assert first is not None and first.status is StepStatus.FAILED and "502" in first.summary
    assert len(fake.changes) == 1  # the narrowing write whose answer was lost; nothing after it


def test_a_breach_at_ten_percent_returns_the_flag_to_team_only(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    config = _config(tmp_path, fake)
    state, _ = _run(tmp_path / "j.jsonl", config, fake, bad_from=10, first_events=lambda j: _start(j, config, _ramp_plan(config)))
    ten = state.step("ramp.ai-copilot.10")
    assert ten is not None and ten.status is StepStatus.FAILED
    assert "moved back to team" in ten.summary and "error_rate" in ten.summary
    hundred = state.step("ramp.ai-copilot.100")
    assert hundred is not None and hundred.status is StepStatus.PENDING  # never widened after the breach
    env = fake.environment(FLAG)
    assert env["on"] is True and env["rules"][0]["description"] == "shipdeck:team"
    weights = {v["variation"]: v["weight"] for v in env["fallthrough"]["rollout"]["variations"]}
    assert weights[0] == 0  # nobody outside the team
    assert state.flags[FLAG]["stage"] == "team"
    assert len(fake.changes) == 4  # narrow, team, 10 %, back to 0 %


def test_a_breach_without_auto_waits_for_a_person_and_leaves_the_flag(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    config = _config(tmp_path, fake)
    state, _ = _run(tmp_path / "j.jsonl", config, fake, bad_from=10, auto=False, first_events=lambda j: _start(j, config, _ramp_plan(config)))
    ten = state.step("ramp.ai-copilot.10")
    assert ten is not None and ten.status is StepStatus.WAITING
    assert "shipdeck ramp ai-copilot --to team" in ten.summary
    assert state.flags[FLAG]["stage"] == "10%"


def test_a_rollback_turns_the_ramped_flag_off_before_redeploying(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    config = _config(tmp_path, fake, watch="1m")
    # The release ramped the flag to 10 % (journaled), then a rollback was requested.
    path = tmp_path / "j.jsonl"
    # A manual step after the ramp keeps the release open (waiting for a person).
    plan = _ramp_plan(config)[:2] + [StepSpec("communicate", "Tell customers", Phase.RELEASED, Group.POST_RELEASE, kind=StepKind.MANUAL)]
    state, _ = _run(path, config, fake, first_events=lambda j: _start(j, config, plan + rollback_plan(flags=True),
                    tag="v1.4.0", type="regular", previous_tag="v1.3.0"))
    assert state.flags[FLAG]["stage"] == "10%"
    journal = Journal(path)
    journal.load()
    journal.append(EventKind.ROLLBACK_REQUESTED, {"by": "captain", "reason": "checkout errors", "target": "v1.3.0", "automatic": False}, 1_800_100_000.0)
    journal.close()
    deployer = RecordingDeployer(fake)
    state, _ = _run(path, config, fake, deployer=deployer)
    assert deployer.deploys == [("v1.3.0", False)], [(s.id, s.status, s.summary) for s in state.steps]  # the flag was off when the redeploy started
    restore = state.step("rollback.flags")
    assert restore is not None and restore.status is StepStatus.PASSED
    assert [kinds for _f, kinds in fake.changes][-1] == ["turnFlagOff"]
    assert len(fake.changes) == 4  # narrow, team, 10 %, off: one change to turn it back
    assert state.flags[FLAG]["stage"] == "off"


def test_in_a_release_a_ramp_breach_moves_the_flag_back_without_rolling_back_the_release(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    config = _config(tmp_path, fake)
    announced = StepSpec("announce.success", "Announce success", Phase.WATCH, Group.RELEASE_DAY, kind=StepKind.MANUAL)

    def released(journal: Journal) -> list[Event]:
        events = _start(journal, config, [announced] + _ramp_plan(config), tag="v1.4.0", type="regular", previous_tag="v1.3.0")
        events.append(journal.append(EventKind.STEP_PASSED, {"step": "announce.success", "summary": "announced"}, 1_800_000_001.0))
        return events

    state, _ = _run(tmp_path / "j.jsonl", config, fake, bad_from=10, first_events=released)
    assert state.production_runs_new_version  # the version stays: only the flag went back
    assert state.rollback is None, state.rollback
    ten = state.step("ramp.ai-copilot.10")
    assert ten is not None and ten.status is StepStatus.FAILED and "moved back to team" in ten.summary
    assert state.flags[FLAG]["stage"] == "team"


def test_a_persons_flag_off_is_guarded_journaled_and_ends_the_ramp(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    import asyncio

    from shipdeck.core.commands import Command

    config = _config(tmp_path, fake)
    path = tmp_path / "j.jsonl"
    # No metrics: the team stage waits for a person to watch it.
    state, _ = run_ramp(path, config, lambda: LaunchDarklyFlags(url=fake.url, token=Secret("T", TOKEN), project="default", environment="production"),
                        first_events=lambda j: _start(j, config, _ramp_plan(config)))
    assert state.flags[FLAG]["stage"] == "team"

    async def command(typed: str) -> tuple[str | None, Any]:
        from ramp_support import FastClock

        from shipdeck.core.decisions import Policy
        from shipdeck.core.journal import Journal
        from shipdeck.core.providers.console import ConsoleNotifier
        from shipdeck.core.runner import Runner, Services
        from shipdeck.core.session import authority_for

        journal = Journal(path)
        events = journal.load()
        backend = LaunchDarklyFlags(url=fake.url, token=Secret("T", TOKEN), project="default", environment="production")
        runner = Runner(journal=journal, events=events, config=config, services=Services(deployer=None, notifier=ConsoleNotifier(), flags=backend),
                        policy=Policy(identity="captain"), authority=authority_for(config, "ramp"), clock=FastClock())
        try:
            return await runner.execute_command(Command("flag_off", by="captain", typed_target=typed, reason="support tickets")), runner.state
        finally:
            await backend.aclose()
            journal.close()

    refusal, _ = asyncio.run(command("ai-copilo"))
    assert refusal is not None and "type the flag's name exactly" in refusal
    assert fake.environment(FLAG)["on"] is True
    refusal, state = asyncio.run(command(FLAG))
    assert refusal is None
    assert fake.environment(FLAG)["on"] is False
    assert state.flags[FLAG]["stage"] == "off"
    assert [s.status for s in state.steps] == [StepStatus.SKIPPED] * 3
    assert phase_of(state) is Phase.DONE
    assert "turned off by captain: support tickets" in state.steps[0].summary
