"""Reading an ECS service's deployments: where a rollout stands, as shipdeck's DeployProgress.

Pure functions over `describe_services` answers (no client here), so the deployer's loop
stays short and these rules are testable on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..sanitize import plain
from .base import DeployProgress

STAGES = ("task definition", "update service", "roll out", "steady")


@dataclass(frozen=True)
class Rollout:
    """One look at the deployment of `target` (a task definition ARN)."""

    state: str  # IN_PROGRESS, COMPLETED, FAILED, ROLLED_BACK (the circuit breaker put the old one back), GONE
    deployment_id: str
    running: int
    desired: int
    failed: int
    pending: int
    reason: str
    primary_task_definition: str

    @property
    def signature(self) -> tuple[object, ...]:
        """What a captain would notice changing; equal signatures are not reported twice."""
        return (self.state, self.deployment_id, self.running, self.desired, self.failed, self.pending, self.primary_task_definition)


def read_rollout(service: Mapping[str, Any], target: str) -> Rollout:
    """Where the deployment of `target` stands in this `describe_services` entry."""
    deployments = [d for d in service.get("deployments") or [] if isinstance(d, Mapping)]
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    ours = next((d for d in deployments if d.get("taskDefinition") == target), None)
    primary_td = str(primary.get("taskDefinition", "")) if primary else ""
    if ours is None:
        # Not listed at all: ECS drops a deployment some time after a circuit-breaker rollback.
        state = "GONE" if service.get("taskDefinition") != target else "IN_PROGRESS"
        source: Mapping[str, Any] = primary or {}
    else:
        source = ours
        rollout = str(ours.get("rolloutState") or "IN_PROGRESS")
        if rollout == "FAILED" and primary is not None and primary is not ours:
            state = "ROLLED_BACK"
        elif rollout in ("COMPLETED", "FAILED"):
            state = rollout
        else:
            state = "IN_PROGRESS"
    return Rollout(
        state=state,
        deployment_id=str(source.get("id", "")),
        running=_count(source, "runningCount"),
        desired=_count(source, "desiredCount"),
        failed=_count(source, "failedTasks"),
        pending=_count(source, "pendingCount"),
        reason=plain(str((ours or {}).get("rolloutStateReason") or "")),
        primary_task_definition=primary_td,
    )


def progress_of(rollout: Rollout, label: str, log: tuple[str, ...] = ()) -> DeployProgress:
    """The rollout as one progress report for the cockpit and the journal."""
    if rollout.state == "COMPLETED":
        share = 1.0
    elif rollout.desired > 0:
        share = 0.2 + 0.8 * min(rollout.running, rollout.desired) / rollout.desired
    else:
        share = 0.2
    stage = "steady" if rollout.state == "COMPLETED" else "roll out"
    stages = tuple(
        (name, "done" if index < STAGES.index(stage) or rollout.state == "COMPLETED" else ("running" if name == stage else "pending"))
        for index, name in enumerate(STAGES)
    )
    failed = f", {rollout.failed} failed" if rollout.failed else ""
    message = f"{label}: {rollout.state.lower().replace('_', ' ')}, {rollout.running}/{rollout.desired} tasks running{failed}"
    if rollout.state in ("FAILED", "ROLLED_BACK", "GONE"):
        stages = tuple((name, "failed" if name == "roll out" else status) for name, status in stages)
    return DeployProgress(stage, message, min(share, 1.0), rollout.running, rollout.desired, stages, log)


def new_events(service: Mapping[str, Any], seen: set[str]) -> tuple[str, ...]:
    """The service's event messages not seen before (oldest first), as plain text; marks them seen."""
    lines = []
    for event in reversed([e for e in service.get("events") or [] if isinstance(e, Mapping)]):
        ident = str(event.get("id") or event.get("message"))
        if ident in seen:
            continue
        seen.add(ident)
        lines.append(plain(str(event.get("message", "")))[:300])
    return tuple(lines)


def _count(deployment: Mapping[str, Any], key: str) -> int:
    value = deployment.get(key)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0
