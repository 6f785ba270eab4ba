"""ECS rollouts that progress, scripted inside moto's backend (moto's own ECS never progresses one).

`ScriptedRollouts.install` wraps one moto ECS backend in this process:
- `update_service` with a new task definition starts a deployment the way ECS does: the new
  one becomes PRIMARY (IN_PROGRESS, 0 running), the old one ACTIVE; then a thread plays the
  scripted outcome out, one change every `step` seconds:
  "complete" (tasks come up one by one, COMPLETED, the old deployment drained),
  "fail" (tasks fail until the rollout is FAILED, circuit breaker without rollback),
  "circuit_breaker" (tasks fail, the deployment is FAILED and ECS rolls back: the old task
  definition is PRIMARY again and completes), "hold" (stays IN_PROGRESS for ever).
- `calls` counts register_task_definition and update_service at the backend, whoever called.
The deployments list is replaced, never mutated in place, so the server thread never reads
half a change.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from moto.backends import get_backend

from .aws_moto import ACCOUNT, REGION

FAILURES_BEFORE_BREAKER = 3


class ScriptedRollouts:
    def __init__(self, outcome: str = "complete", step: float = 0.05, region: str = REGION) -> None:
        self.outcome = outcome
        self.step = step
        self.calls: Counter[str] = Counter()
        self.backend: Any = get_backend("ecs")[ACCOUNT][region]
        self.started_at: dict[str, float] = {}  # task definition ARN -> monotonic time its deployment started
        self.steady_at: dict[str, float] = {}  # task definition ARN -> monotonic time it was COMPLETED
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._serial = 0

    def install(self) -> ScriptedRollouts:
        backend = self.backend
        register, update = backend.register_task_definition, backend.update_service

        def counted_register(*args: Any, **kwargs: Any) -> Any:
            self.calls["register_task_definition"] += 1
            return register(*args, **kwargs)

        def scripted_update(properties: dict[str, Any]) -> Any:
            self.calls["update_service"] += 1
            before = backend._get_service(properties.get("cluster", "default"), properties["service"].split("/")[-1])
            old = before.task_definition
            service = update(properties)
            if service.task_definition != old:
                self._start(service, old)
            return service

        backend.register_task_definition = counted_register
        backend.update_service = scripted_update
        return self

    def wait_steady(self, task_definition: str, within: float = 10.0) -> None:
        """Block until the rollout of `task_definition` is COMPLETED (a test's own setup deploy)."""
        give_up = time.monotonic() + within
        while task_definition not in self.steady_at:
            assert time.monotonic() < give_up, f"{task_definition} never became steady"
            time.sleep(0.01)

    def settle(self, cluster: str, service_name: str) -> None:
        """Make a freshly created service steady (COMPLETED, all tasks running), as production is before a release."""
        service = self.backend._get_service(cluster, service_name)
        service.deployments = [{**service.deployments[0], "rolloutState": "COMPLETED", "runningCount": service.desired_count, "pendingCount": 0}]
        service.running_count = service.desired_count

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- the script ----------------------------------------------------------------------------

    def _start(self, service: Any, old: str) -> None:
        self._serial += 1
        ident = f"ecs-svc/{self._serial:012d}"
        now = datetime.now(timezone.utc)
        self.started_at[service.task_definition] = time.monotonic()
        new = _deployment(ident, service.task_definition, service.desired_count, now)
        rest = [{**d, "status": "ACTIVE"} for d in service.deployments if d["taskDefinition"] != service.task_definition]
        service.deployments = [new, *rest]
        self._event(service, f"(service {service.name}) has started a deployment {ident}.")
        if self.outcome != "hold":
            thread = threading.Thread(target=self._play, args=(service, ident, old), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _play(self, service: Any, ident: str, old: str) -> None:
        desired = service.desired_count
        drained = {d["id"] for d in service.deployments if d["id"] != ident}  # what this rollout replaces
        if self.outcome == "complete":
            for running in range(1, desired + 1):
                if not self._wait():
                    return
                self._change(service, ident, runningCount=running, pendingCount=desired - running)
            if not self._wait():  # ECS waits for the new tasks to pass health checks
                return
            self._change(service, ident, rolloutState="COMPLETED", rolloutStateReason=f"ECS deployment {ident} completed.")
            service.deployments = [d for d in service.deployments if d["id"] not in drained]
            self.steady_at[self._td(service, ident)] = time.monotonic()
            self._event(service, f"(service {service.name}) has reached a steady state.")
            return
        for failed in range(1, FAILURES_BEFORE_BREAKER + 1):
            if not self._wait():
                return
            self._change(service, ident, failedTasks=failed)
            self._event(service, f"(service {service.name}) deployment {ident}: task {failed} failed to start (essential container exited)")
        reason = "ECS deployment circuit breaker: tasks failed to start."
        if self.outcome == "fail":
            self._change(service, ident, rolloutState="FAILED", rolloutStateReason=reason)
            return
        # circuit_breaker: the failed deployment is demoted and the previous task definition rolls out again.
        back = f"{ident}-rollback"
        now = datetime.now(timezone.utc)
        failed = [{**d, "status": "ACTIVE", "rolloutState": "FAILED", "rolloutStateReason": reason} for d in service.deployments if d["id"] == ident]
        service.task_definition = old
        service.deployments = [_deployment(back, old, desired, now), *failed]
        self._event(service, f"(service {service.name}) rolling back to deployment {back}.")
        if self._wait():
            self._change(service, back, runningCount=desired, pendingCount=0, rolloutState="COMPLETED")
            service.deployments = [d for d in service.deployments if d["id"] not in drained and d["id"] != ident]
            self.steady_at[old] = time.monotonic()

    def _wait(self) -> bool:
        return not self._stop.wait(self.step)

    def _change(self, service: Any, ident: str, **fields: Any) -> None:
        now = datetime.now(timezone.utc)
        service.deployments = [{**d, **fields, "updatedAt": now} if d["id"] == ident else d for d in service.deployments]

    def _td(self, service: Any, ident: str) -> str:
        return str(next(d["taskDefinition"] for d in service.deployments if d["id"] == ident))

    def _event(self, service: Any, message: str) -> None:
        self._serial += 1
        service.events = [{"id": f"event-{self._serial}", "createdAt": datetime.now(timezone.utc), "message": message}, *service.events]


def _deployment(ident: str, task_definition: str, desired: int, now: datetime) -> dict[str, Any]:
    return {
        "id": ident, "status": "PRIMARY", "taskDefinition": task_definition, "desiredCount": desired,
        "pendingCount": desired, "runningCount": 0, "failedTasks": 0, "createdAt": now, "updatedAt": now,
        "launchType": "FARGATE", "rolloutState": "IN_PROGRESS", "rolloutStateReason": f"ECS deployment {ident} in progress.",
    }
