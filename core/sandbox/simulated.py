"""Simulated providers that behave like the real thing, for the demo and the tests.

They share a `World`: which tag production runs and since when, persisted as JSON in the
sandbox folder so a resumed release (another process) sees the same production. A deploy
takes time and reports stages, healthy tasks and log lines; metrics carry noise and react
to what production runs, as the scenario says.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..clock import Clock
from ..providers.base import (
    DeployProgress,
    DeployResult,
    MetricPoint,
    ProgressCallback,
    ProviderError,
    SmokeResult,
)

SCENARIOS = ("healthy", "regression", "blind", "smoke-failure", "deploy-failure", "garbage", "rate-limited")

STAGES = ("provision green", "health checks", "switch traffic", "drain blue")
CRITICAL_PATHS = ("login", "apply to job (end-to-end)", "tracker loads", "email sent", "upgrade to Pro (Stripe test)")


class World:
    """What production runs in the sandbox; one JSON file so every process agrees."""

    def __init__(self, path: Path, scenario: str = "healthy", initial_tag: str = "") -> None:
        self.path = Path(path)
        self.scenario = scenario
        self.initial_tag = initial_tag
        if not self.path.exists():
            self._write({"production_tag": initial_tag, "initial_tag": initial_tag, "changed_at": 0.0, "deploys": {}, "posts": [], "switches": []})

    def _read(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        temporary.replace(self.path)

    @property
    def production_tag(self) -> str:
        return str(self._read()["production_tag"])

    @property
    def changed_at(self) -> float:
        return float(self._read()["changed_at"])

    def switch(self, tag: str, at: float) -> None:
        data = self._read()
        data.update(production_tag=tag, changed_at=at)
        data.setdefault("switches", []).append([at, tag])
        self._write(data)

    def production_at(self, at: float) -> str:
        """What production ran at time `at` (the fake Datadog's values depend on it)."""
        data = self._read()
        tag = str(data.get("initial_tag", self.initial_tag))
        for switched_at, switched_to in sorted((float(a), str(t)) for a, t in data.get("switches", [])):
            if switched_at > at:
                break
            tag = switched_to
        return tag

    def record_deploy(self, key: str, tag: str, stage: int, finished: bool) -> None:
        data = self._read()
        data["deploys"][key] = {"tag": tag, "stage": stage, "finished": finished}
        self._write(data)

    def deploy_record(self, key: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self._read()["deploys"].get(key)
        return record

    def record_post(self, key: str, channel: str, text: str) -> None:
        data = self._read()
        data["posts"].append({"key": key, "channel": channel, "text": text})
        self._write(data)

    def posts(self) -> list[dict[str, Any]]:
        return list(self._read()["posts"])


@dataclass
class SimulatedDeployer:
    world: World
    clock: Clock
    duration: float = 12.0
    tasks: int = 4
    fail_new_tags: bool = False  # deploy-failure scenario: only the tag production started on deploys
    initial_tag: str = ""

    async def deploy(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult:
        return await self._run(tag, key, 0, on_progress)

    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        record = self.world.deploy_record(key)
        if record is None:
            return None
        if record["finished"]:
            return DeployResult(tag=tag, production_changed=self.world.production_tag == tag, summary=f"{tag} already live (reconciled)")
        # The deploy system kept going while we were away; follow it from the stage it reached.
        return await self._run(tag, key, int(record["stage"]), on_progress)

    async def _run(self, tag: str, key: str, first_stage: int, on_progress: ProgressCallback) -> DeployResult:
        per_stage = self.duration / len(STAGES)
        ticks = 4
        statuses = ["passed"] * first_stage + ["pending"] * (len(STAGES) - first_stage)
        for index in range(first_stage, len(STAGES)):
            stage = STAGES[index]
            statuses[index] = "running"
            self.world.record_deploy(key, tag, index, finished=False)
            for tick in range(ticks):
                await self.clock.sleep(per_stage / ticks)
                healthy = self._healthy(index, tick, ticks)
                if stage == "health checks" and self.fail_new_tags and tag != self.initial_tag and tick == ticks - 1:
                    statuses[index] = "failed"
                    await on_progress(
                        DeployProgress(stage, f"{tag}: 0/{self.tasks} tasks healthy after {per_stage:.0f}s; blue keeps serving",
                                       (index + 1) / len(STAGES), 0, self.tasks, tuple(zip(STAGES, statuses)),
                                       (f"health check failed: GET /healthz -> 503 on all {self.tasks} green tasks",)))
                    self.world.record_deploy(key, tag, index, finished=True)
                    raise ProviderError(f"simulated deploy of {tag}: green tasks never became healthy; traffic was not switched")
                await on_progress(
                    DeployProgress(
                        stage=stage,
                        message=f"{stage}: {healthy}/{self.tasks} tasks healthy",
                        progress=(index + (tick + 1) / ticks) / len(STAGES),
                        healthy=healthy,
                        desired=self.tasks,
                        stages=tuple(zip(STAGES, statuses)),
                        log=(f"[{stage}] task {min(tick + 1, self.tasks)}/{self.tasks} {tag} ok",),
                    )
                )
            if stage == "switch traffic":
                self.world.switch(tag, self.clock.now())
            statuses[index] = "passed"
        self.world.record_deploy(key, tag, len(STAGES), finished=True)
        await on_progress(DeployProgress("done", f"{tag} live on {self.tasks}/{self.tasks} tasks", 1.0, self.tasks, self.tasks, tuple(zip(STAGES, statuses))))
        return DeployResult(tag=tag, production_changed=True, summary=f"{tag} live on {self.tasks}/{self.tasks} tasks, blue drained",
                            evidence={"tasks": f"{self.tasks}/{self.tasks} healthy", "strategy": "blue-green"})

    def _healthy(self, stage: int, tick: int, ticks: int) -> int:
        if stage == 0:
            return min(self.tasks, math.ceil(self.tasks * (tick + 1) / ticks))
        return self.tasks


@dataclass
class SimulatedMetrics:
    """Error rate (%), p95 latency (ms) and queue depth with noise; the scenario decides the rest."""

    world: World
    scenario: str = "healthy"
    initial_tag: str = ""
    onset: float = 2.0  # seconds after the switch before a regression shows
    seed: int = 7

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        tag, changed_at = self.world.production_tag, self.world.changed_at
        new_live = tag != self.initial_tag and now - changed_at >= self.onset
        if self.scenario == "blind" and new_live:
            return [MetricPoint(name, now, None) for name in series]
        bad = self.scenario == "regression" and new_live
        return [MetricPoint(name, now, round(self._value(name, bad), 3)) for name in series]

    def _value(self, name: str, bad: bool) -> float:
        noise = self._random.gauss(0, 1)
        if name == "error_rate":
            return max(0.0, (7.5 if bad else 0.45) + noise * (0.6 if bad else 0.08))
        if name == "p95_latency":
            return max(50.0, (2600.0 if bad else 310.0) + noise * (150.0 if bad else 25.0))
        if name == "queue_depth":
            return max(0.0, (140.0 if bad else 22.0) + noise * 6.0)
        return max(0.0, 1.0 + noise * 0.1)


@dataclass
class SimulatedSmoke:
    world: World
    clock: Clock
    scenario: str = "healthy"
    initial_tag: str = ""
    per_check: float = 0.3

    async def run(self, environment: str, base_url: str) -> list[SmokeResult]:
        results = []
        broken = self.scenario == "smoke-failure" and environment != "staging" and self.world.production_tag != self.initial_tag
        for name in CRITICAL_PATHS:
            await self.clock.sleep(self.per_check)
            failed = broken and name == "apply to job (end-to-end)"
            detail = "POST /api/applications -> 500 Internal Server Error" if failed else "ok"
            results.append(SmokeResult(name=name, passed=not failed, detail=detail, duration=self.per_check))
        return results


@dataclass
class SimulatedNotifier:
    world: World

    async def post(self, channel: str, text: str, key: str) -> str:
        self.world.record_post(key, channel, text)
        return f"#{channel} (sandbox)"

    async def was_posted(self, key: str) -> bool:
        return any(p["key"] == key for p in self.world.posts())


class SimulatedRegistry:
    async def image_exists(self, tag: str) -> tuple[bool, str]:
        digest = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
        return True, f"image {tag} found ({digest[:19]}…)"


class SimulatedCi:
    async def status(self, commit: str) -> tuple[bool | None, str]:
        return True, f"all checks green on {commit[:10]} (sandbox)"
