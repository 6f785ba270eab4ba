"""What a step handler may use: the state, the journal (through the runner), the providers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..clock import Clock
from ..config import Config
from ..events import Event, EventKind
from ..model import Intent, Release, StepState, StepStatus
from .effects import Act, Effect, Reconcile, Unresolved, perform

if TYPE_CHECKING:
    from ..providers.base import CiStatus, Deployer, ImageRegistry, Mailer, MetricsSource, Notifier, SmokeRunner
    from ..providers.flags_base import FlagBackend
    from ..providers.git import GitRelease
    from .loop import Runner


@dataclass
class Services:
    """The providers one release uses, each behind its Protocol (providers/base.py).

    None means "none" in the config: the steps that need it wait for a person or say they did
    not run. `git` and `repo_path` are None outside a repository.
    """

    deployer: Deployer | None
    notifier: Notifier
    registry: ImageRegistry | None = None
    metrics: MetricsSource | None = None
    smoke: SmokeRunner | None = None
    ci: CiStatus | None = None
    email: Mailer | None = None  # the major release's email to customers
    git: GitRelease | None = None
    repo_path: Path | None = None
    flags: FlagBackend | None = None


def pairs(evidence: Mapping[str, str] | None) -> list[list[str]]:
    """Evidence as [label, value] pairs: the journal sorts object keys, and the order is the story."""
    return [[str(k), str(v)] for k, v in (evidence or {}).items()]


class StepContext:
    """What a step handler may do: read the state, journal progress and results, use providers."""

    def __init__(self, runner: Runner, step_id: str) -> None:
        self.runner = runner
        self.step_id = step_id

    @property
    def state(self) -> Release:
        return self.runner.state

    @property
    def step(self) -> StepState:
        step = self.state.step(self.step_id)
        assert step is not None
        return step

    @property
    def config(self) -> Config:
        return self.runner.config

    @property
    def services(self) -> Services:
        return self.runner.services

    @property
    def clock(self) -> Clock:
        return self.runner.clock

    def setting(self, name: str) -> Any:
        """A setting as journaled when the release started: a release runs to its end on them."""
        if name in self.state.settings:
            return self.state.settings[name]
        from ..release_settings import settings_from_config

        return settings_from_config(self.config)[name]  # a journal from before settings were journaled

    async def emit(self, kind: EventKind, data: Mapping[str, Any]) -> Event:
        return await self.runner.emit(kind, data)

    async def started(self) -> None:
        if self.step.status is not StepStatus.RUNNING:
            await self.emit(EventKind.STEP_STARTED, {"step": self.step_id})

    async def progress(self, message: str, **details: Any) -> None:
        await self.emit(EventKind.STEP_PROGRESSED, {"step": self.step_id, "message": message, **details})

    async def passed(self, summary: str, evidence: Mapping[str, str] | None = None) -> None:
        await self.emit(EventKind.STEP_PASSED, {"step": self.step_id, "summary": summary, "evidence": pairs(evidence)})

    async def failed(self, summary: str, evidence: Mapping[str, str] | None = None) -> None:
        await self.emit(EventKind.STEP_FAILED, {"step": self.step_id, "summary": summary, "evidence": pairs(evidence)})

    async def skipped(self, reason: str) -> None:
        await self.emit(EventKind.STEP_SKIPPED, {"step": self.step_id, "reason": reason})

    async def waiting(self, reason: str, evidence: Mapping[str, str] | None = None) -> None:
        await self.emit(EventKind.STEP_WAITING, {"step": self.step_id, "reason": reason, "evidence": pairs(evidence)})

    async def finish(self, effect: Effect, note: str = "") -> None:
        """Pass or fail the step as the (possibly replayed) effect says."""
        summary = effect.summary + (f" ({note})" if note else "")
        if effect.ok:
            await self.passed(summary, effect.evidence)
        else:
            await self.failed(summary, effect.evidence)

    def open_intent(self) -> Intent | None:
        return next((i for i in self.state.intents if i.step == self.step_id), None)

    @property
    def key(self) -> str:
        """The idempotency key of this step's current attempt."""
        return f"{self.state.id}:{self.step_id}:{self.step.attempt}"

    async def perform(self, action: str, params: Mapping[str, Any], act: Act, reconcile: Reconcile | None) -> Effect | None:
        """The step's side effect, at most once (see effects.perform).

        Returns None when a crash left it open and nobody can tell whether it happened: the
        step then waits for a person, with the command that continues.
        """
        result = await perform(
            self.runner, step_id=self.step_id, key=self.key, action=action, params=params, act=act, reconcile=reconcile
        )
        return await self.resolved(result)

    async def resolved(self, result: Effect | Unresolved) -> Effect | None:
        """The effect, or None after making the step wait for a person when nobody can tell."""
        if isinstance(result, Unresolved):
            await self.waiting(
                f"cannot tell whether {result.action} happened before the restart: {result.detail}. "
                f"Check by hand, then `shipdeck approve {self.step_id}` if it happened, or "
                "`shipdeck resume` to ask again",
                {"open intent": result.key},
            )
            return None
        return result

    async def blocking(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking provider call (GitPython, files) off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)
