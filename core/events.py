"""Events: every fact of a release, in the order it happened.

An event is what the journal stores (one JSON object per line) and what the reducer folds.
Payloads are plain JSON-compatible dicts so the journal stays readable with `jq`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping


class EventKind(str, Enum):
    RELEASE_STARTED = "release_started"  # id, version, tag, type, environment, previous_tag, branch, captain, plan, series, watch
    STEP_STARTED = "step_started"  # step
    STEP_PROGRESSED = "step_progressed"  # step, message, progress?, stage?, healthy?, desired?
    STEP_WAITING = "step_waiting"  # step, reason
    STEP_PASSED = "step_passed"  # step, summary, evidence?
    STEP_FAILED = "step_failed"  # step, summary, evidence?
    STEP_SKIPPED = "step_skipped"  # step, reason
    STEP_WAIVED = "step_waived"  # step, by, reason
    STEP_RETRIED = "step_retried"  # step, by: back to pending
    APPROVAL_GRANTED = "approval_granted"  # step, by, role, reason
    INTENT = "intent"  # key, step, action, params
    OUTCOME = "outcome"  # key, status: done|not_done|failed, result
    PRODUCTION_CHANGED = "production_changed"  # version, step
    PRODUCTION_OBSERVED = "production_observed"  # step, version (None: cannot tell), detail, restore: before a deploy writes
    FLAG_CHANGED = "flag_changed"  # flag, stage, state (as read back after the change), step
    WATCH_STARTED = "watch_started"  # step, duration, interval: the observed-time accounting starts
    SAMPLE = "sample"  # series, at, value (None = no data), error?, backfilled?, data_at?, budget?
    BASELINE_MEASURED = "baseline_measured"  # values {series: value|None}, start, end: before the deploy
    BREACH_CONFIRMED = "breach_confirmed"  # series, value, threshold, since, breach_at, samples
    ROLLBACK_REQUESTED = "rollback_requested"  # by, reason, target, automatic, breaches
    RELEASE_ABORTED = "release_aborted"  # by, reason
    RELEASE_FAILED = "release_failed"  # reason
    NOTE = "note"  # message: something a person should read, no state change
    LOCK_TAKEN_OVER = "lock_taken_over"  # previous holder


@dataclass(frozen=True)
class Event:
    kind: EventKind
    data: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0
    seq: int = 0

    def to_record(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "kind": self.kind.value, "data": dict(self.data)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        return cls(
            kind=EventKind(record["kind"]),
            data=record.get("data", {}),
            at=float(record["at"]),
            seq=int(record["seq"]),
        )
