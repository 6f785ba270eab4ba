"""The small Protocols every outside system sits behind.

The runner only talks to these. A provider reports progress through a callback and raises
`ProviderError` with a message a captain can act on (which system, what happened, what to do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence, TypeVar

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a worker thread (asyncio.to_thread), importing asyncio only
    when a call runs: provider discovery imports every provider module on each CLI start."""
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


class ProviderError(Exception):
    """An outside system failed; the message names it and says what to do next."""


class Unknown(Exception):
    """Nobody can tell whether a side effect happened (a deploy killed at its deadline, an
    intent a crash left open): never guessed, the release waits for a person."""


class NotConfigured(ProviderError):
    """The config names a provider that this version of shipdeck does not have yet."""


@dataclass(frozen=True)
class DeployProgress:
    """One report from a running deploy (or rollback)."""

    stage: str
    message: str
    progress: float | None = None  # 0..1 over the whole deploy
    healthy: int | None = None
    desired: int | None = None
    stages: tuple[tuple[str, str], ...] = ()  # (stage name, status) in order
    log: tuple[str, ...] = ()  # new log lines since the last report


@dataclass(frozen=True)
class DeployResult:
    tag: str
    production_changed: bool
    summary: str
    evidence: Mapping[str, str] = field(default_factory=dict)


ProgressCallback = Callable[[DeployProgress], Awaitable[None]]


@dataclass(frozen=True)
class Running:
    """What production runs now, as the deploy system itself reports it.

    `version` None means the system cannot tell (never guess). `restore` is what puts
    production back to exactly this state (an ECS task definition ARN, a workflow's inputs):
    the runner journals it *before* a deploy writes anything, and hands it back to `deploy`
    when that release is rolled back.
    """

    version: str | None
    detail: str
    restore: Mapping[str, str] = field(default_factory=dict)


class Deployer(Protocol):
    async def deploy(
        self, tag: str, key: str, on_progress: ProgressCallback, restore: Mapping[str, str] | None = None
    ) -> DeployResult:
        """Put `tag` on production; `key` is unique per attempt and lets `reconcile` find it.

        A rollback passes `restore`, the `Running.restore` journaled before the release it
        undoes; a deployer that has such a pointer returns production to it exactly.
        """
        ...

    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        """After a crash: follow the deploy started with `key` to its end, or None if it never started."""
        ...


class KnowsRunning(Protocol):
    """A deployer that can say what production runs (optional: `running` may be absent)."""

    async def running(self) -> Running:
        ...


class ImageRegistry(Protocol):
    async def image_exists(self, tag: str) -> tuple[bool, str]:
        """Whether an image for `tag` exists, with a line of evidence (digest, pushed at)."""
        ...


@dataclass(frozen=True)
class MetricPoint:
    series: str
    at: float
    value: float | None


class MetricsSource(Protocol):
    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        """The most recent value of each series at `now`; value None when there is no data."""
        ...


@dataclass(frozen=True)
class SmokeResult:
    """One critical path's outcome. Text fields are cleaned and masked by the provider.

    On failure `request` is what was asked ("POST /api/login", or the command), `expected`
    what it had to show and `got` what came back (status, the mismatching fields, the body
    cut short). `steps` has one line per request made, with its timing.
    """

    name: str
    passed: bool
    detail: str
    duration: float = 0.0  # seconds, measured
    request: str = ""
    expected: str = ""
    got: str = ""
    steps: tuple[str, ...] = ()


class SmokeRunner(Protocol):
    async def run(self, environment: str, base_url: str) -> list[SmokeResult]:
        ...


class KnowsVersion(Protocol):
    """A smoke runner that uses the version expected to run (optional: `run_version` may be absent).

    The runner calls it instead of `run` when present, so `{version}` in a command check is the
    release's tag after a deploy and the restored tag after a rollback.
    """

    async def run_version(self, environment: str, base_url: str, version: str) -> list[SmokeResult]:
        ...


class Notifier(Protocol):
    async def post(self, channel: str, text: str, key: str) -> str:
        """Post `text`; returns where it went. `key` makes a retried post recognisable."""
        ...

    async def was_posted(self, key: str) -> bool:
        ...


@dataclass(frozen=True)
class Announcement:
    """One moment of a release told to people, for a notifier that keeps one thread per release.

    `headline` is what the release's own message says now (edited in place); `text` is the
    moment itself (a reply in the thread). `thread` is what the release's first post returned
    (journaled, so it survives a restart); empty before that post.
    """

    moment: str  # deploying | deployed | rolling_back | rolled_back
    channel: str
    text: str
    headline: str
    thread: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Posted:
    """Where an announcement went, the thread to journal, and what part of it did not go out."""

    where: str
    thread: Mapping[str, str] = field(default_factory=dict)
    missed: tuple[str, ...] = ()


class KeepsThread(Protocol):
    """A notifier that edits one message per release (optional: found with getattr `announce`)."""

    async def announce(self, announcement: Announcement, key: str) -> Posted:
        ...


class Mailer(Protocol):
    """Sends one email (the major-release announcement to customers)."""

    async def send(self, subject: str, body: str, key: str) -> str:
        """Send; returns to whom it went. `key` becomes the Message-ID, so a resend is recognisable."""
        ...


class CiStatus(Protocol):
    async def status(self, commit: str) -> tuple[bool | None, str]:
        """True green, False red, None unknown; with a line of evidence."""
        ...
