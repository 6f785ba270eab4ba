"""Driving the real runner through a flag ramp on a real journal file, with crashes.

A crash is a SystemExit raised right after the chosen journal line is written: nothing after it
happens, as with a killed process, and a new runner resumes from the file. The flag backend is
built fresh for each run (a resumed process has new clients).
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any, Callable

from shipdeck.core.config import parse_config
from shipdeck.core.decisions import Policy
from shipdeck.core.events import Event, EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.model import Group, Phase, ReleaseType, SeriesSpec
from shipdeck.core.providers.console import ConsoleNotifier
from shipdeck.core.ramp import ramp_steps
from shipdeck.core.ramp_config import ramp_entry
from shipdeck.core.release_settings import settings_from_config
from shipdeck.core.runner import Runner, Services
from shipdeck.core.session import authority_for

FLAG = "ai-copilot"
SERIES = SeriesSpec("error_rate", "%", 1.0, None, 5.0)
RAMP_LINES = (EventKind.INTENT, EventKind.OUTCOME, EventKind.FLAG_CHANGED)


class FastClock:
    """Time passes only when someone sleeps, and at once."""

    def __init__(self) -> None:
        self.at = 1_800_000_000.0

    def now(self) -> float:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += seconds
        await asyncio.sleep(0)


class Crash(SystemExit):
    pass


class RecordingNotifier:
    """A chat channel that keeps what was posted under which key (and can be searched for it)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []  # (key, text) in order: a repeat shows

    async def post(self, channel: str, text: str, key: str) -> str:
        self.posts.append((key, text))
        return f"#{channel}"

    async def was_posted(self, key: str) -> bool:
        return any(posted == key for posted, _text in self.posts)


def ramp_config(tmp_path: Path, flags: dict[str, Any], watch: str = "15m") -> Any:
    ramp = [{"flag": FLAG, "stages": ["team", "10%", "100%"], "team_segment": "internal-staff", "watch": watch}]
    data = {"flags": {**flags, "ramp": ramp}, "watch": {"breach_for": "2m", "blind_after": "1m"}, "metrics": {"interval": "10s"}}
    return parse_config(tmp_path / "shipdeck.toml", data)


def ramp_plan(config: Any) -> Any:
    entry = ramp_entry(config, FLAG)
    assert entry is not None
    return ramp_steps(entry, group=Group.RELEASE_DAY, phase=Phase.WATCH)


def start(journal: Journal, config: Any, plan: Any, **extra: Any) -> list[Event]:
    """The first journal line: a ramp journal unless `extra` says otherwise (tag, type, previous_tag)."""
    data = {
        "id": "ramp-1",
        "version": "1.4.0",
        "tag": extra.pop("tag", ""),
        "type": extra.pop("type", ReleaseType.RAMP.value),
        "environment": "production",
        "previous_tag": extra.pop("previous_tag", ""),
        "captain": "captain",
        "plan": [s.to_dict() for s in plan],
        "series": [SERIES.to_dict()],
        "watch": {"breach_for": 120.0, "blind_after": 60.0},
        "production_version": "v1.4.0",
        "settings": settings_from_config(config),
        **extra,
    }
    return [journal.append(EventKind.RELEASE_STARTED, data, 1_800_000_000.0)]


def run_ramp(
    path: Path,
    config: Any,
    make_backend: Callable[[], Any],
    *,
    metrics: Any = None,
    crash_after: int | None = None,
    deployer: Any = None,
    auto: bool = True,
    notifier: Any = None,
    first_events: Callable[[Journal], list[Event]] | None = None,
) -> tuple[Any, int]:
    """Run until the runner stops (or crash after the n-th intent/outcome/flag_changed line).

    Returns the final state and how many ramp lines this run journaled.
    """
    journal = Journal(path)
    events = journal.load()
    if first_events is not None and not events:
        events = first_events(journal)

    async def go() -> tuple[Any, int]:
        backend = make_backend()
        services = Services(deployer=deployer, notifier=notifier or ConsoleNotifier(), metrics=metrics, flags=backend)
        runner = Runner(
            journal=journal, events=events, config=config, services=services,
            policy=Policy(auto=auto, identity="captain"), authority=authority_for(config, "ramp"), clock=FastClock(),
        )
        seen = [0]

        def crash(event: Event, state: Any) -> None:
            if event.kind in RAMP_LINES:
                seen[0] += 1
                if crash_after is not None and seen[0] == crash_after:
                    raise Crash(137)

        runner.subscribe(crash)
        try:
            return await runner.run(), seen[0]
        finally:
            await backend.aclose()

    try:
        return asyncio.run(go())
    finally:
        journal.close()
        # What a crash abandoned is finalized now, not inside some later import's ast.parse
        # (CPython 3.11 shares the AST converter's depth counter with nested conversions).
        gc.collect()
