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
from typing import Any, Mapping, Sequence

from ..clock import Clock
from ..providers.base import (
    DeployProgress,
    DeployResult,
    MetricPoint,
    ProgressCallback,
    ProviderError,
    SmokeResult,
)

# garbage: the metrics source answers with NaN, infinite or negative values, or an error;
# rate-limited: Datadog's budget is tight (the demo's fake), so polls stretch.
SCENARIOS = ("healthy", "regression", "blind", "smoke-failure", "deploy-failure", "garbage", "rate-limited")

STAGES = ("provision green", "health checks", "switch traffic", "drain blue")
# Values no real series can take; a source answering them is as good as no data.
GARBAGE = (math.nan, math.inf, -1.0, -math.inf)
CRITICAL_PATHS = ("login", "apply to job (end-to-end)", "tracker loads", "email sent", "upgrade to Pro (Stripe test)")


class World:
    """What production runs in the sandbox; one JSON file so every process agrees.

    Besides production it keeps every side effect a test counts: deploy records by key,
    each traffic switch, each post. `behaviours` lets a test decide, per tag, how production
    behaves while it runs that tag (a scenario name); a tag without one behaves as the
    config's scenario says.
    """

    def __init__(self, path: Path, scenario: str = "healthy", initial_tag: str = "") -> None:
        self.path = Path(path)
        self.scenario = scenario
        self.initial_tag = initial_tag
        if not self.path.exists():
            self._write(
                {"production_tag": initial_tag, "initial_tag": initial_tag, "changed_at": 0.0, "deploys": {}, "switches": [], "posts": [], "behaviours": {}}
            )

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

    def set_behaviour(self, tag: str, scenario: str) -> None:
        """From now on production behaves as `scenario` whenever it runs `tag`."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        data = self._read()
        data.setdefault("behaviours", {})[tag] = scenario
        self._write(data)

    def behaviour(self, tag: str, default: str) -> str:
        """How production behaves running `tag`: set per tag, else `default` for a new tag."""
        chosen = self._read().get("behaviours", {}).get(tag)
        if chosen is not None:
            return str(chosen)
        return "healthy" if tag == self.initial_tag else default

    def switch(self, tag: str, at: float, key: str = "", stage: int | None = None) -> None:
        """Production now runs `tag`; with `key`, the deploy's record says so in the same write.

        One write, so a kill can never leave production switched and the deploy not knowing.
        """
        data = self._read()
        data.update(production_tag=tag, changed_at=at)
        data.setdefault("switches", []).append({"key": key, "tag": tag, "at": at})
        if key:
            record = data["deploys"].setdefault(key, {"tag": tag, "stage": 0, "finished": False})
            record["switched"] = True
            if stage is not None:
                record["stage"] = stage
        self._write(data)

    def record_deploy(self, key: str, tag: str, stage: int, finished: bool, error: str = "") -> None:
        data = self._read()
        record = data["deploys"].setdefault(key, {})
        record.update(tag=tag, stage=stage, finished=finished)
        if error:
            record["error"] = error
        self._write(data)

    def deploy_record(self, key: str) -> dict[str, Any] | None:
        record: dict[str, Any] | None = self._read()["deploys"].get(key)
        return record

    def deploys(self) -> dict[str, dict[str, Any]]:
        return dict(self._read()["deploys"])

    def switches(self) -> list[dict[str, Any]]:
        return list(self._read().get("switches", []))

    def production_at(self, at: float) -> str:
        """What production ran at time `at` (the fake Datadog's values depend on it)."""
        data = self._read()
        tag = str(data.get("initial_tag", self.initial_tag))
        for switched_at, switched_to in sorted((float(s["at"]), str(s["tag"])) for s in data.get("switches", [])):
            if switched_at > at:
                break
            tag = switched_to
        return tag

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

    async def deploy(
        self, tag: str, key: str, on_progress: ProgressCallback, restore: Mapping[str, str] | None = None
    ) -> DeployResult:
        return await self._run(tag, key, 0, on_progress)

    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        """Follow the deploy `key` from what the world recorded, never from what we assume."""
        record = self.world.deploy_record(key)
        if record is None:
            return None
        if record.get("error"):
            # The deploy system knows how it ended: failed, traffic never switched. Known, not unknown.
            return DeployResult(tag=tag, production_changed=self.world.production_tag == tag, summary=f"{record['error']} (reconciled)")
        if record["finished"]:
            return DeployResult(tag=tag, production_changed=self.world.production_tag == tag, summary=f"{tag} already live (reconciled)")
        # The deploy system kept going while we were away; follow it from the stage it reached.
        return await self._run(tag, key, int(record["stage"]), on_progress)

    def _fails(self, tag: str) -> bool:
        default = "deploy-failure" if self.fail_new_tags else "healthy"
        return tag != self.initial_tag and self.world.behaviour(tag, default) == "deploy-failure"

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
                if stage == "health checks" and self._fails(tag) and tick == ticks - 1:
                    statuses[index] = "failed"
                    error = f"simulated deploy of {tag}: green tasks never became healthy; traffic was not switched"
                    self.world.record_deploy(key, tag, index, finished=True, error=error)
                    await on_progress(
                        DeployProgress(stage, f"{tag}: 0/{self.tasks} tasks healthy after {per_stage:.0f}s; blue keeps serving",
                                       (index + 1) / len(STAGES), 0, self.tasks, tuple(zip(STAGES, statuses)),
                                       (f"health check failed: GET /healthz -> 503 on all {self.tasks} green tasks",)))
                    raise ProviderError(error)
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
            if stage == "switch traffic" and not (self.world.deploy_record(key) or {}).get("switched"):
                # Switched and recorded in one write: a kill cannot make this switch happen twice.
                self.world.switch(tag, self.clock.now(), key=key, stage=index + 1)
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
        self._polls = 0

    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        tag, changed_at = self.world.production_tag, self.world.changed_at
        new_live = tag != self.initial_tag and now - changed_at >= self.onset
        scenario = self.world.behaviour(tag, self.scenario) if new_live else "healthy"
        self._polls += 1
        if scenario == "blind":
            return [MetricPoint(name, now, None) for name in series]
        if scenario == "garbage":
            if self._polls % 4 == 0:
                raise ProviderError("simulated metrics: 502 Bad Gateway from the metrics API")
            return [MetricPoint(name, now, GARBAGE[(self._polls + i) % len(GARBAGE)]) for i, name in enumerate(series)]
        bad = scenario == "regression"
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
        tag = self.world.production_tag
        broken = environment != "staging" and tag != self.initial_tag and self.world.behaviour(tag, self.scenario) == "smoke-failure"
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
