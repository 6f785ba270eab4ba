"""Event builders for engine tests: a started release and the usual step events."""

from __future__ import annotations

from shipdeck.core.config import parse_config
from shipdeck.core.events import Event, EventKind
from shipdeck.core.model import ReleaseType, SeriesSpec
from shipdeck.core.plan import build_plan
from pathlib import Path

SERIES = (
    SeriesSpec("error_rate", "%", 1.0, None, 5.0),
    SeriesSpec("p95_latency", "ms", 500.0, None, 2000.0),
    SeriesSpec("queue_depth", "", None, 100.0, None),
)
CONFIG_DATA = {
    "roles": {"engineering-manager": ["alice"], "cto": ["carol"], "on-call": ["dave"], "product": ["erin"]},
    "release": {
        "rollback_roles": ["engineering-manager", "cto", "on-call"],
        "approvals": {
            "regular": {"roles": ["engineering-manager"]},
            "hotfix": {"roles": ["cto", "on-call"]},
            "major": {"roles": ["cto", "product"], "require": "all"},
        },
    },
}


def config():
    return parse_config(Path("shipdeck.toml"), CONFIG_DATA)


def started(release_type: ReleaseType = ReleaseType.REGULAR, previous_tag: str = "v1.3.0", at: float = 1000.0) -> Event:
    plan = build_plan(release_type, config())
    return Event(
        EventKind.RELEASE_STARTED,
        {
            "id": "r1",
            "version": "1.4.0",
            "tag": "v1.4.0",
            "type": release_type.value,
            "environment": "production",
            "previous_tag": previous_tag,
            "branch": "release/2026-11-27",
            "captain": "alice",
            "plan": [s.to_dict() for s in plan],
            "series": [s.to_dict() for s in SERIES],
            "watch": {"breach_for": 120.0, "blind_after": 60.0},
            "production_version": previous_tag,
        },
        at=at,
        seq=1,
    )


class Script:
    """Builds a numbered event list with a moving clock."""

    def __init__(self, release_type: ReleaseType = ReleaseType.REGULAR, previous_tag: str = "v1.3.0") -> None:
        self.events = [started(release_type, previous_tag)]
        self.at = 1000.0

    def add(self, kind: EventKind, advance: float = 1.0, **data) -> "Script":
        self.at += advance
        self.events.append(Event(kind, data, at=self.at, seq=len(self.events) + 1))
        return self

    def pass_steps(self, *steps: str) -> "Script":
        for step in steps:
            self.add(EventKind.STEP_STARTED, step=step).add(EventKind.STEP_PASSED, step=step, summary="ok")
        return self

    def to_production(self) -> "Script":
        self.pass_steps(*PRE_STEPS)
        self.add(EventKind.APPROVAL_GRANTED, step="approval", by="alice", role="engineering-manager")
        self.pass_steps("cut", "image", "announce.deploy")
        self.add(EventKind.STEP_STARTED, step="deploy")
        self.add(EventKind.PRODUCTION_CHANGED, version="v1.4.0", step="deploy")
        self.add(EventKind.STEP_PASSED, step="deploy", summary="live")
        return self


PRE_STEPS = ("preflight.window", "preflight.git", "preflight.ci", "preflight.staging", "preflight.notes", "preflight.migrations")
