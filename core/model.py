"""The release model: plain values the reducer folds events into.

Nothing here performs I/O. Every type is a frozen dataclass or an enum so a state can be
compared, copied and replayed without surprises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping


class ReleaseType(str, Enum):
    REGULAR = "regular"
    HOTFIX = "hotfix"
    MAJOR = "major"
    ROLLBACK = "rollback"  # a rollback of the live version after its release was over
    RAMP = "ramp"  # a feature-flag ramp on its own (`shipdeck ramp FLAG`): production's version stays


class Phase(str, Enum):
    PREFLIGHT = "preflight"
    CUT = "cut"
    IMAGE = "image"
    DEPLOY = "deploy"
    VERIFY = "verify"
    WATCH = "watch"
    RELEASED = "released"
    FINALIZE = "finalize"
    DONE = "done"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        """A terminal phase is never left; the release is over."""
        return self in TERMINAL_PHASES


# rollback_failed is deliberately not terminal: production may still run the new version,
# so a person must be able to retry the rollback.
TERMINAL_PHASES = frozenset({Phase.DONE, Phase.ROLLED_BACK, Phase.FAILED, Phase.ABORTED})


class Group(str, Enum):
    """Where a step sits in the reference checklist."""

    PRE_RELEASE = "pre-release"
    RELEASE_DAY = "release-day"
    POST_RELEASE = "post-release"
    ROLLBACK = "rollback"


class StepKind(str, Enum):
    AUTOMATIC = "automatic"  # the runner executes it through a provider
    MANUAL = "manual"  # a person does it and confirms
    APPROVAL = "approval"  # a person holding a role approves


class StepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # needs a person: approval, manual confirmation or a blocked check
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAIVED = "waived"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.PASSED, StepStatus.SKIPPED, StepStatus.WAIVED)


class Health(str, Enum):
    OK = "ok"
    WARN = "warn"  # above the warn line, or above rollback but not yet sustained
    BREACH = "breach"  # rollback criterion sustained for breach_for
    BLIND = "blind"  # no data for longer than blind_after: never healthy
    UNKNOWN = "unknown"  # no sample yet


@dataclass(frozen=True)
class StepSpec:
    """One checklist item of a plan.

    `action` names the handler the runner executes for automatic steps; `roles` are the
    approving roles (any one of them suffices unless `all_roles`); `changes_production` marks
    the step after whose success production runs the new version.
    """

    id: str
    title: str
    phase: Phase
    group: Group
    kind: StepKind = StepKind.AUTOMATIC
    action: str = ""
    roles: tuple[str, ...] = ()
    all_roles: bool = False
    optional: bool = False  # may be skipped by policy (hotfix fast-track)
    changes_production: bool = False
    side_effect: bool = False  # journaled as intent/outcome; reconciled on resume
    # What this step acts on, journaled with the plan: e.g. a ramp stage's flag, stage and watch.
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        extra = {"params": dict(self.params)} if self.params else {}  # journals without params stay as they were
        return {
            **extra,
            "id": self.id,
            "title": self.title,
            "phase": self.phase.value,
            "group": self.group.value,
            "kind": self.kind.value,
            "action": self.action,
            "roles": list(self.roles),
            "all_roles": self.all_roles,
            "optional": self.optional,
            "changes_production": self.changes_production,
            "side_effect": self.side_effect,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepSpec:
        return cls(
            id=data["id"],
            title=data["title"],
            phase=Phase(data["phase"]),
            group=Group(data["group"]),
            kind=StepKind(data.get("kind", "automatic")),
            action=data.get("action", ""),
            roles=tuple(data.get("roles", ())),
            all_roles=bool(data.get("all_roles", False)),
            optional=bool(data.get("optional", False)),
            changes_production=bool(data.get("changes_production", False)),
            side_effect=bool(data.get("side_effect", False)),
            params=dict(data.get("params") or {}),
        )


@dataclass(frozen=True)
class Approval:
    by: str
    role: str
    at: float
    reason: str = ""


@dataclass(frozen=True)
class StepState:
    spec: StepSpec
    status: StepStatus = StepStatus.PENDING
    started_at: float | None = None
    finished_at: float | None = None
    summary: str = ""  # one line: what passed, what failed and why
    evidence: tuple[tuple[str, str], ...] = ()  # (label, value) pairs for the detail view
    approvals: tuple[Approval, ...] = ()
    waived_by: str = ""
    waive_reason: str = ""
    progress: float | None = None  # 0..1 when the provider reports it
    attempt: int = 0

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class Sample:
    series: str
    at: float
    value: float | None  # None: the source answered but had no data for this interval


@dataclass(frozen=True)
class SeriesSpec:
    """Thresholds of one watched metric (copied into the journal when the release starts)."""

    name: str
    unit: str = ""
    baseline: float | None = None
    warn_above: float | None = None
    rollback_above: float | None = None
    shadow: bool = False  # watched and shown, never acted on
    query: str = ""  # what is asked of the metrics source (evidence for every verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "baseline": self.baseline,
            "warn_above": self.warn_above,
            "rollback_above": self.rollback_above,
            "shadow": self.shadow,
            "query": self.query,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeriesSpec:
        return cls(
            name=data["name"],
            unit=data.get("unit", ""),
            baseline=data.get("baseline"),
            warn_above=data.get("warn_above"),
            rollback_above=data.get("rollback_above"),
            shadow=bool(data.get("shadow", False)),
            query=str(data.get("query", "")),
        )


@dataclass(frozen=True)
class WatchPolicy:
    breach_for: float  # seconds a rollback criterion must hold before it counts
    blind_after: float  # seconds without data after which a series is blind

    def to_dict(self) -> dict[str, Any]:
        return {"breach_for": self.breach_for, "blind_after": self.blind_after}


@dataclass(frozen=True)
class SeriesHealth:
    """One watched series as the journal's samples describe it (folded by the reducer)."""

    spec: SeriesSpec
    health: Health = Health.UNKNOWN
    last_value: float | None = None
    last_sample_at: float | None = None  # time of the last sample that carried data
    last_poll_at: float | None = None  # time of the last poll, with or without data
    above_since: float | None = None  # first sample of the current run above rollback_above
    breach_at: float | None = None
    breach_reported_at: float | None = None  # the breach_at a breach_confirmed was journaled for
    blind_since: float | None = None
    was_blind: bool = False  # blind at any point of the current watch
    peak: float | None = None  # highest value in the current watch
    measured_baseline: float | None = None  # the series' mean before the deploy (journaled)
    samples: int = 0  # samples with data in the current watch
    recent: tuple[tuple[float, float | None], ...] = ()  # the last samples: evidence for decisions


@dataclass(frozen=True)
class WatchState:
    """One watch step's accounting: how much of its duration was actually observed.

    Time between two polls counts as observed only when the gap is no longer than
    `blind_after`; a longer gap (a crash, a hung query, a slow provider) is missed, blind
    time, and the watch runs on until it has observed its whole duration.
    """

    step: str
    started_at: float
    duration: float
    last_poll_at: float
    observed: float = 0.0
    missed: float = 0.0
    blind_periods: tuple[tuple[str, float, float], ...] = ()  # (series or "*", from, to), newest kept
    resumes: int = 0

    @property
    def remaining(self) -> float:
        return max(0.0, self.duration - self.observed)


@dataclass(frozen=True)
class OutcomeRecord:
    """The journaled outcome of one side effect: replayed, never assumed, on resume."""

    status: str  # done | not_done | failed
    result: Mapping[str, Any]


@dataclass(frozen=True)
class Intent:
    key: str
    step: str
    action: str
    params: Mapping[str, Any]
    at: float


@dataclass(frozen=True)
class Observation:
    """What the deploy system said production ran before this release's deploy wrote anything."""

    version: str | None  # None: the deploy system could not tell
    detail: str
    restore: Mapping[str, str]  # what returns production to exactly this (e.g. a task definition)
    at: float


@dataclass(frozen=True)
class Rollback:
    requested_by: str
    reason: str
    target: str
    from_version: str
    automatic: bool
    breaches: tuple[str, ...] = ()
    at: float = 0.0
    # The rolled-back release's restore point when it returns to `target` (see Observation).
    restore: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Release:
    """The whole state of one release: `fold(apply, events)`."""

    id: str = ""
    version: str = ""
    tag: str = ""
    release_type: ReleaseType = ReleaseType.REGULAR
    environment: str = ""
    previous_tag: str = ""
    branch: str = ""
    captain: str = ""
    started_at: float | None = None
    updated_at: float | None = None
    steps: tuple[StepState, ...] = ()
    series: tuple[SeriesHealth, ...] = ()
    watch_policy: WatchPolicy = WatchPolicy(breach_for=120.0, blind_after=120.0)
    # The tag production runs, as far as the journal knows ("" before the first deploy is
    # recorded; see `production_unknown` for a deploy whose outcome was never recorded).
    production_version: str = ""
    production_changed_at: float | None = None
    observed_before: Observation | None = None  # what the deploy system reported before the deploy
    intents: tuple[Intent, ...] = ()  # open intents: journaled before acting, no outcome yet
    # Every closed side effect by key, with its result: a step killed between its outcome and
    # its result replays the recorded result on resume instead of acting again.
    outcomes: Mapping[str, OutcomeRecord] = field(default_factory=dict)
    watches: tuple[WatchState, ...] = ()
    # The metrics source's rate-limit budget when it last ran low: (remaining, limit, reset_in).
    metrics_budget: tuple[int, int, float] | None = None
    rollback: Rollback | None = None
    aborted_by: str = ""
    abort_reason: str = ""
    failure: str = ""
    last_seq: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)
    rehearsal: bool = False  # simulated providers (a demo world or --rehearse): marked everywhere
    # Production is the version plus the flags shipdeck changed: flag -> the state it observed
    # after its last change (FlagState.to_json() plus "stage" and "at").
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def started(self) -> bool:
        return bool(self.id)

    def step(self, step_id: str) -> StepState | None:
        for step in self.steps:
            if step.id == step_id:
                return step
        return None

    def watch(self, step_id: str) -> WatchState | None:
        for item in self.watches:
            if item.step == step_id:
                return item
        return None

    def series_health(self, name: str) -> SeriesHealth | None:
        for item in self.series:
            if item.spec.name == name:
                return item
        return None

    @property
    def production_runs_new_version(self) -> bool:
        return bool(self.tag) and self.production_version == self.tag

    @property
    def announced_healthy(self) -> bool:
        """The watch passed and success was announced: from here nothing may touch production
        without a person (a post-release failure waits; only a breach or a captain rolls back)."""
        step = self.step("announce.success")
        return step is not None and step.status is StepStatus.PASSED

    @property
    def production_unknown(self) -> bool:
        """A production-changing action started and its outcome is not known."""
        return any(
            (self.step(i.step) is not None and self.step(i.step).spec.changes_production)  # type: ignore[union-attr]
            for i in self.intents
        )
