"""Many releases of one product, through crashes, failures and rollbacks (issues 7 and 14).

A hypothesis state machine drives the REAL runner (open_session + runner.run, in-process,
on a VirtualClock) over simulated providers that count every side effect in the world. It
keeps its own model of what must be true — the last healthy release, which commits are
published, what production runs — and checks after every shipdeck process:

- replaying the journal gives the state the runner had;
- a step journaled failed is never passed without a retry, a failed outcome never done;
- one traffic switch per deploy key, one post per key; a passed deploy switched production;
- a watch never passes after a blind period (a gap without valid data, whatever its cause);
- every rollback targets the last release that was released healthy;
- each release ends as its production behaviour says (healthy → done, breaching or smoke
  failure → rolled back, deploy failure → failed, missing/garbage data → a person decides);
- what shipdeck says production runs is what the world runs;
- every change is in exactly one published release's notes.

`LifetimeWithRamps` runs the same rules with a feature flag at a LaunchDarkly fake that every
release ramps (team → 10 % → 100 %) and that `shipdeck ramp` moves alone, and checks more:

- production is the version plus the flags: the flag stage shipdeck's journals say is the one
  the flag system serves;
- no stage applied twice, none lost: the stages the flag system went through are the stages
  the journals recorded, in order;
- a rollback turns the flags back first: when a rollback's redeploy starts, every flag the
  rolled-back version's journals changed is back where they found it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from lifetime_world import (
    CAPTAIN,
    FLAG,
    INITIAL_TAG,
    Product,
    RunResult,
    check_deploys_did_what_they_said,
    check_flag_stages_once,
    check_flags_back_before_redeploy,
    check_never_passed_blind,
    check_no_failure_became_pass,
    check_replay,
    check_side_effects_once,
    describe_stop,
    ledger_view,
    load_events,
    open_rollback_session,
    switched_tags,
)

from shipdeck.core.commands import Command
from shipdeck.core.events import EventKind
from shipdeck.core.ledger import Ledger
from shipdeck.core.machine import current_step, is_terminal, phase_of, rollback_availability
from shipdeck.core.model import Release, StepStatus

BEHAVIOURS = ("healthy", "regression", "blind", "garbage", "smoke-failure", "deploy-failure")
END = {  # how a release with this production behaviour ends when no person steps in
    "healthy": {"done"},
    "regression": {"rolled_back"},
    "smoke-failure": {"rolled_back"},
    "deploy-failure": {"failed"},
    "blind": {"done"},  # only once a person waived the blind watch (checked separately)
    "garbage": {"done", "rolled_back"},
}
INTERVAL = 0.25  # the test pace's metrics interval
TOKEN = re.compile(r"\bc(\d+)\b")
STATS = {"examples": 0, "releases": 0, "kills": 0, "processes": 0, "ramps": 0}


def _note(text: str) -> None:
    """hypothesis.event() when inside a test (statistics with --hypothesis-show-statistics)."""
    try:
        event(text)
    except InvalidArgument:
        pass


@dataclass
class Active:
    """The model's view of the release in progress."""

    id: str
    tag: str
    release_type: str
    behaviour: str
    self_approve: bool
    target: str  # the last healthy release when it started: the only valid rollback target
    base_branch: str
    journal: Path
    killed: bool = False
    person_rollback: bool = False
    person_abort: bool = False


class Lifetime(RuleBasedStateMachine):
    FLAGS = False  # LifetimeWithRamps: every release ramps a flag at a LaunchDarkly fake

    def __init__(self) -> None:
        super().__init__()
        self.product = Product(with_flags=self.FLAGS)
        self.healthy = [INITIAL_TAG]  # released healthy, oldest first
        self.shipped: list[str] = []  # releases that reached production (healthy or rolled back), oldest first
        self.unpublished: dict[str, str] = {}  # token -> sha of a change the notes must show once
        self.revertable: list[tuple[str, str]] = []
        self.develop_history_unpublished = True  # the demo's own commits since v1.3.0
        self.published: dict[str, str] = {}  # token -> tag whose notes carried it
        self.published_sha: dict[str, str] = {}  # token -> sha, while published
        self.active: Active | None = None
        STATS["examples"] += 1

    def teardown(self) -> None:
        self.product.close()
        shutil.rmtree(self.product.root, ignore_errors=True)

    # -- developers ---------------------------------------------------------------------

    @precondition(lambda self: self.active is None)
    @rule(kind=st.sampled_from(["conventional", "plain", "merge"]))
    def add_to_develop(self, kind: str) -> None:
        token, sha = self.product.add_commit("develop", kind)
        self.unpublished[token] = sha
        if kind != "merge":
            self.revertable.append((token, sha))

    @precondition(lambda self: self.active is None and self.revertable)
    @rule(pick=st.integers(0, 1000))
    def revert_on_develop(self, pick: int) -> None:
        token, sha = self.revertable.pop(pick % len(self.revertable))
        self.product.revert(sha)
        self.unpublished.pop(token, None)  # a change reverted before release is in nobody's notes

    @precondition(lambda self: self.active is None)
    @rule()
    def add_hotfix_fix(self) -> None:
        token, sha = self.product.add_commit("main", "conventional")
        self.unpublished[token] = sha

    @rule(seconds=st.sampled_from([60.0, 86_400.0]))
    def time_passes(self, seconds: float) -> None:
        self.product.clock.advance(seconds)

    # -- releases -----------------------------------------------------------------------

    def _new_on(self, branch: str) -> bool:
        tip = self.product.tip(branch)
        if self.shipped and not self.product.has_new_work(self.shipped[-1], tip):
            # The newest release that reached production (healthy or rolled back) already has
            # everything: "nothing to release", even if that release was rolled back.
            return False
        if branch == "develop" and self.develop_history_unpublished:
            return True
        return any(self.product.reachable(sha, tip) for sha in self.unpublished.values())

    @precondition(lambda self: self.active is None)
    @rule(
        release_type=st.sampled_from(["regular", "regular", "hotfix", "major"]),
        behaviour=st.sampled_from(BEHAVIOURS),
        self_approve=st.booleans(),
        kill_at=st.none() | st.integers(1, 160),
    )
    def start_release(self, release_type: str, behaviour: str, self_approve: bool, kill_at: int | None) -> None:
        if not self._new_on("main" if release_type == "hotfix" else "develop"):
            return  # nothing new to ship on that branch; release_nothing_new covers it
        self.product.clock.advance(5.0)  # a person starts it: never in the second the last one started
        chosen: dict[str, Release] = {}

        def choose(state: Release) -> None:
            chosen["state"] = state
            self.product.set_behaviour(state.tag, behaviour)

        result, _ = self.product.run(self.product.options(release_type, assume_yes=self_approve), kill_at=kill_at, before_run=choose)
        state = chosen["state"]
        self.active = Active(
            id=state.id, tag=state.tag, release_type=release_type, behaviour=behaviour, self_approve=self_approve,
            target=self.healthy[-1], base_branch="main" if release_type == "hotfix" else "develop", journal=result.journal,
        )
        STATS["releases"] += 1
        _note(f"release: {release_type} {behaviour}")
        self._after(result)

    @precondition(lambda self: self.active is None)
    @rule()
    def release_nothing_new(self) -> None:
        """With nothing new on develop, `release` must not redeploy or re-announce anything."""
        if self._new_on("develop"):
            return
        switches, posts = len(self.product.world.switches()), len(self.product.world.posts())
        try:
            result, _ = self.product.run(self.product.options("regular"))
        except Exception:
            return  # refused: what we want (the CLI's message and exit code are tested there)
        assert len(self.product.world.switches()) == switches and len(self.product.world.posts()) == posts, (
            f"nothing new on develop, yet `release` ran {describe_stop(result.state)}: "
            f"switches {switches} -> {len(self.product.world.switches())}, posts {posts} -> {len(self.product.world.posts())}"
        )
        assert is_terminal(result.state), f"nothing new on develop, yet a release is in progress: {describe_stop(result.state)}"

    @precondition(lambda self: self.active is not None and self.active.killed)
    @rule(downtime=st.sampled_from([0.0, 0.5, 5.0, 600.0]), kill_at=st.none() | st.integers(1, 120))
    def resume(self, downtime: float, kill_at: int | None) -> None:
        assert self.active is not None
        self.product.clock.advance(downtime)
        result, _ = self.product.run(self.product.options(resume=True), kill_at=kill_at)
        self._after(result)

    # -- people -------------------------------------------------------------------------

    def _waiting_step(self) -> str:
        if self.active is None or self.active.killed:
            return ""
        state = self._state()
        step = current_step(state)
        return step.id if step is not None and step.status is StepStatus.WAITING and not is_terminal(state) else ""

    def _state(self) -> Release:
        assert self.active is not None
        from shipdeck.core.machine import fold

        return fold(load_events(self.active.journal))

    def _command(self, command: Command, kill_at: int | None = None) -> None:
        """Send `command` to the active release as a person would (a new process), and run on."""
        result, refusal = self.product.run(self.product.options(resume=True), command=command, kill_at=kill_at)
        if refusal is not None:
            what = f"{command.verb} {command.step}".strip()
            if command.verb == "rollback":
                raise AssertionError(f"rollback to the last healthy release {command.typed_target} refused: {refusal}")
            raise AssertionError(f"{what} refused: {refusal}")
        self._after(result)

    @precondition(lambda self: self._waiting_step() in ("approval", "communicate"))
    @rule()
    def approve(self) -> None:
        verb = "approve" if self._waiting_step() == "approval" else "confirm"
        self._command(Command(verb, CAPTAIN))

    @precondition(lambda self: self._waiting_step() in ("watch", "post.watch"))
    @rule(verb=st.sampled_from(["waive", "retry"]))
    def decide_on_watch(self, verb: str) -> None:
        step = self._waiting_step()
        self._command(Command(verb, CAPTAIN, step=step, reason="checked the dashboards by hand"))

    @precondition(lambda self: self.active is not None and not self.active.killed)
    @rule(kill_at=st.none() | st.integers(1, 60))
    def roll_back(self, kill_at: int | None) -> None:
        assert self.active is not None
        state = self._state()
        if is_terminal(state) or not rollback_availability(state)[0]:
            return
        self.active.person_rollback = True
        self._command(Command("rollback", CAPTAIN, reason="the captain decided", typed_target=self.active.target), kill_at)

    @precondition(lambda self: self._waiting_step() == "approval")
    @rule()
    def abort(self) -> None:
        assert self.active is not None
        self.active.person_abort = True
        self._command(Command("abort", CAPTAIN, reason="not today"))

    @precondition(lambda self: open_rollback_session is not None and self.active is None and len(self.healthy) > 1)
    @rule()
    def roll_back_after_release(self) -> None:
        """Rolling back the live version once its release is over: a journaled rollback of its own."""
        live, target = self.healthy[-1], self.healthy[-2]
        result, _ = self.product.run(self.product.options(resume=False), rollback_reason="found a bug after release")
        state = result.state
        assert not result.killed
        events = load_events(result.journal)
        targets = [e.data.get("target") for e in events if e.kind is EventKind.ROLLBACK_REQUESTED]
        targets += [e.data["rollback"]["target"] for e in events if e.kind is EventKind.RELEASE_STARTED and e.data.get("rollback")]
        assert targets and all(t == target for t in targets), f"rollback of {live} targeted {targets}, not {target}"
        assert phase_of(state).value == "rolled_back", describe_stop(state)
        assert self.product.world.production_tag == target
        self.healthy.pop()
        # A release rolled back after it ended is no longer published: its changes belong in the
        # next healthy release's notes.
        for name in [n for n, tag in self.published.items() if tag == live]:
            del self.published[name]
            self.unpublished[name] = self.published_sha.pop(name)

    # -- after every shipdeck process -----------------------------------------------------

    def _after(self, result: RunResult) -> None:
        assert self.active is not None
        STATS["processes"] += 1
        check_replay(result, evidence_order=False)
        events = load_events(result.journal)
        world = self.product.world
        check_no_failure_became_pass(events)
        check_side_effects_once(world)
        check_deploys_did_what_they_said(events, world)
        for e in events:
            if e.kind is EventKind.ROLLBACK_REQUESTED:
                assert e.data.get("target") == self.active.target, (
                    f"{self.active.tag}: rollback targets {e.data.get('target')}, "
                    f"but the last release released healthy is {self.active.target}"
                )
        state = result.state
        if result.killed and not is_terminal(state):
            STATS["kills"] += 1
            self.active.killed = True
            return
        self.active.killed = False
        never_deployed = not world.switches()  # then shipdeck says "unknown": it has no record
        if not state.production_unknown and not (never_deployed and state.production_version == ""):
            assert state.production_version == world.production_tag, (
                f"shipdeck says production runs {state.production_version!r}, the world runs {world.production_tag!r} "
                f"({describe_stop(state)})"
            )
        if is_terminal(state):
            self._finished(state, events)
        else:
            self._check_wait(state)

    def _check_wait(self, state: Release) -> None:
        assert self.active is not None
        step = current_step(state)
        allowed = set()
        if not self.active.self_approve:
            allowed |= {"approval", "communicate"}
        if self.active.behaviour in ("blind", "garbage") and not self.active.person_rollback:
            allowed |= {"watch", "post.watch"}
        assert step is not None and step.status is StepStatus.WAITING and step.id in allowed, (
            f"{self.active.release_type} release with {self.active.behaviour} production stopped at {describe_stop(state)}"
        )

    def _finished(self, state: Release, events) -> None:
        active = self.active
        assert active is not None
        phase = phase_of(state).value
        if active.person_abort:
            expected = {"aborted"}
        elif active.person_rollback:
            expected = {"rolled_back"}
        else:
            expected = END[active.behaviour]
        assert phase in expected, (
            f"{active.release_type} release {active.tag} with {active.behaviour} production ended {phase}, "
            f"expected {' or '.join(sorted(expected))}: {describe_stop(state)}; failure {state.failure!r}"
        )
        check_never_passed_blind(events, INTERVAL)
        switched = switched_tags(self.product.world, active.id)
        deployed = [active.tag] if any(e.kind is EventKind.PRODUCTION_CHANGED and e.data.get("version") == active.tag for e in events) else []
        expected_switches = {"done": [active.tag], "rolled_back": deployed + [active.target], "failed": [], "aborted": []}[phase]
        assert switched == expected_switches, f"{active.tag} ended {phase}: production switched to {switched}, expected {expected_switches}"
        expected_production = active.tag if phase == "done" else active.target
        assert self.product.world.production_tag == expected_production, (
            f"{active.tag} ended {phase}; the world runs {self.product.world.production_tag}, expected {expected_production}"
        )
        if phase == "done" or (phase == "rolled_back" and deployed):
            self.shipped.append(active.tag)
        if phase == "done":
            self._published(state)
        self.active = None

    def _published(self, state: Release) -> None:
        """The release is out: its notes carry every unpublished change its base reached, once."""
        assert self.active is not None
        notes_path = self.product.store().notes_path(state.id)
        text = notes_path.read_text(encoding="utf-8")
        base = state.settings["git"]["base_commit"]
        for token in TOKEN.findall(text):
            name = f"c{token}"
            assert name not in self.published, f"change {name} is in the notes of {self.published[name]} and of {state.tag}"
            self.published[name] = state.tag
        for name, sha in list(self.unpublished.items()):
            if self.product.reachable(sha, base):
                assert name in self.published and self.published[name] == state.tag, (
                    f"change {name} ({sha[:10]}) shipped in {state.tag} (previous {state.previous_tag}) "
                    f"but is in no published release's notes"
                )
                self.published_sha[name] = self.unpublished.pop(name)
        self.revertable = [(t, s) for t, s in self.revertable if t in self.unpublished]
        if self.active.base_branch == "develop":
            self.develop_history_unpublished = False
        self.healthy.append(state.tag)

    @invariant()
    def ledger_agrees_with_the_world(self) -> None:
        if self.active is not None and self.active.killed:
            return
        view = ledger_view(self.product)
        if view is None:
            return
        production, last_healthy = view
        if production == "" and not self.product.world.switches():
            return  # shipdeck never deployed this product: it says unknown, and that is the truth
        assert production == self.product.world.production_tag, f"ledger says production runs {production}, the world runs {self.product.world.production_tag}"
        if self.active is None:
            assert last_healthy == self.healthy[-1], f"ledger's last healthy release is {last_healthy}, the model's {self.healthy[-1]}"


class LifetimeWithRamps(Lifetime):
    FLAGS = True

    def __init__(self) -> None:
        super().__init__()
        self.stage_at_start: dict[str, str] = {}  # tag -> the flag's stage at the flag system when its release started
        started = self.product.run

        def run(options, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs.get("rollback_reason"):  # a rollback after the release: no _after runs for it
                ran = started(options, **kwargs)
                self._check_flags(ran[0])
                return ran
            if options.resume_only or kwargs.get("ramp_to") is not None:
                return started(options, **kwargs)
            assert self.product.flags is not None
            stage, chosen = self.product.flags.state().stage, kwargs.get("before_run")

            def note_start(state: Release) -> None:
                self.stage_at_start[state.tag] = stage
                if chosen is not None:
                    chosen(state)

            return started(options, **{**kwargs, "before_run": note_start})

        self.product.run = run  # type: ignore[method-assign]

    @precondition(lambda self: self.active is None)
    @rule(to=st.sampled_from(["team", "10", "100", "off"]), kill_at=st.none() | st.integers(1, 30))
    def ramp_alone(self, to: str, kill_at: int | None) -> None:
        """`shipdeck ramp ai-copilot --to …` with no release active, perhaps killed and resumed at once."""
        self.product.clock.advance(5.0)
        STATS["ramps"] += 1
        result, _ = self.product.run(self.product.options(), ramp_to=to, kill_at=kill_at)
        if result.killed and not is_terminal(result.state):
            STATS["kills"] += 1
            result, _ = self.product.run(self.product.options(resume=True))
        _note(f"ramp alone to {to}" + (" (killed)" if kill_at is not None and result.killed else ""))
        assert phase_of(result.state).value == "done", describe_stop(result.state)
        check_replay(result, evidence_order=False)
        check_side_effects_once(self.product.world)
        self._check_flags(result)

    @precondition(lambda self: self.active is None)
    @rule(stage_first=st.sampled_from([None, "off", "team", "10"]))
    def release_then_roll_back(self, stage_first: str | None) -> None:
        """A healthy release ramps the flag (perhaps after a ramp alone), then is rolled back after it ended."""
        if stage_first is not None:
            self.ramp_alone(stage_first, None)
        self.add_to_develop("conventional")
        self.start_release("regular", "healthy", True, None)
        if self.active is None and len(self.healthy) > 1:
            self.roll_back_after_release()

    def _after(self, result: RunResult) -> None:
        super()._after(result)
        self._check_flags(result)

    def _check_flags(self, result: RunResult) -> None:
        flags = self.product.flags
        assert flags is not None
        events = load_events(result.journal)
        check_flags_back_before_redeploy(events)
        if result.killed and not is_terminal(result.state):
            return  # a change may be made and not yet journaled: the resume reconciles it
        journals = [load_events(path) for path in self.product.store().journals()]
        check_flag_stages_once(journals, flags.stages)
        state = result.state
        if phase_of(state).value == "rolled_back" and state.rollback is not None and state.rollback.from_version in self.stage_at_start:
            # Rolling a version back returns every flag to where its release found it.
            found = self.stage_at_start[state.rollback.from_version]
            assert flags.state().stage == found, (
                f"{state.rollback.from_version} was rolled back but {FLAG} is at {flags.state().stage}, "
                f"not where its release found it ({found})"
            )
        ledger = Ledger.from_store(self.product.store())
        said = str(ledger.flags().get(FLAG, {}).get("stage", "off"))
        served = flags.state().stage
        assert said == served, f"shipdeck says {FLAG} is at {said}, the flag system serves {served} ({describe_stop(result.state)})"


@pytest.mark.slow
@pytest.mark.timeout(900)  # generating takes about a minute; shrinking a failure up to five more
def test_lifetime_of_one_product() -> None:
    """Many releases of one product stay true to the model (see the module docstring)."""
    run_state_machine_as_test(
        Lifetime,
        settings=settings(
            max_examples=int(os.environ.get("SHIPDECK_LIFETIME_EXAMPLES", "40")),
            stateful_step_count=15,
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure here is reproducible
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=True,
        ),
    )
    print(f"lifetime: {STATS['examples']} examples, {STATS['releases']} releases, "
          f"{STATS['processes']} shipdeck processes, {STATS['kills']} kills")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_lifetime_with_flag_ramps() -> None:
    """Releases that ramp a flag, ramps alone, kills and rollbacks keep production = version + flags."""
    run_state_machine_as_test(
        LifetimeWithRamps,
        settings=settings(
            max_examples=int(os.environ.get("SHIPDECK_LIFETIME_RAMP_EXAMPLES", "25")),
            phases=[p for p in Phase if p is not Phase.shrink or not os.environ.get("SHIPDECK_LIFETIME_NO_SHRINK")],
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=True,
        ),
    )
    print(f"lifetime with ramps: {STATS['examples']} examples, {STATS['releases']} releases, {STATS['ramps']} ramps alone, "
          f"{STATS['processes']} shipdeck processes, {STATS['kills']} kills")


def test_replay_keeps_evidence_order() -> None:
    """A restarted cockpit shows evidence in the order the step gave it (the journal replays it)."""
    product = Product()
    try:
        result, _ = product.run(product.options())
        check_replay(result, evidence_order=True)
    finally:
        shutil.rmtree(product.root, ignore_errors=True)
