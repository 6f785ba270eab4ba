"""Frozen releases for cockpit tests: fixed event lists, a fixed clock, no runner behind them.

Snapshot tests need the same picture on every run, so the cockpit gets a `FrozenLink`
(a state folded from a scripted event list) instead of a runner, and a clock that never moves.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from engine_events import PRE_STEPS, config, started

from shipdeck.core.commands import Authority, Command
from shipdeck.core.events import Event, EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.machine import fold
from shipdeck.core.model import Release
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.cockpit_info import CockpitInfo

BASE = 1_795_000_000.0  # a Friday in 2026, 14:… UTC; TZ is pinned to UTC by the fixtures
# The injection corpus: markup, Textual actions, and terminal escapes (OSC title, CSI colour,
# OSC 8 hyperlink, C1 CSI) inside text that comes from outside.
CORPUS = (
    "[@click=app.quit] handle [/b] and [TODO] in tracker"
    " \x1b]0;pwned-title\x07\x1b[31mred\x1b[0m \x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\ \x9b2J"
)
CORPUS_LITERALS = ("[@click=app.quit]", "[/b]", "[TODO]")
CORPUS_ESCAPES = (b"pwned-title", b"\x1b]0;", b"evil.example", b"\x1b[31mred")


class FrozenLink:
    """A stand-in runner: a fixed state; commands are recorded and answered with `answer`."""

    def __init__(self, events: list[Event], answer: Callable[[Command], str | None] = lambda c: None) -> None:
        self.events = events
        self.state: Release = fold(events)
        self.commands: list[Command] = []
        self.answer = answer
        self.stopped = False

    def subscribe(self, subscriber) -> None:
        self.subscriber = subscriber

    def submit(self, command: Command) -> asyncio.Future[str | None]:
        self.commands.append(command)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        future.set_result(self.answer(command))
        return future

    async def run(self) -> Release:
        return self.state

    def stop(self) -> None:
        self.stopped = True


class Script:
    """A numbered event list on a moving clock, starting at BASE."""

    def __init__(self) -> None:
        self.events: list[Event] = [started(at=BASE)]
        self.at = BASE

    def add(self, kind: EventKind, advance: float = 1.0, **data: Any) -> Script:
        self.at += advance
        self.events.append(Event(kind, data, at=self.at, seq=len(self.events) + 1))
        return self

    def passed(self, step: str, summary: str = "ok", advance: float = 2.0, **evidence: str) -> Script:
        self.add(EventKind.STEP_STARTED, advance=0.5, step=step)
        return self.add(EventKind.STEP_PASSED, advance=advance, step=step, summary=summary, evidence=evidence)


def waiting_for_approval() -> Script:
    script = Script()
    for step in PRE_STEPS:
        summary = CORPUS if step == "preflight.notes" else f"{step.split('.')[-1]} ok"
        script.passed(step, summary)
    script.add(EventKind.STEP_WAITING, step="approval", reason="waiting for approval by engineering-manager")
    return script


def migrations_flagged() -> Script:
    """Preflight stopped at a destructive migration that an approver must waive."""
    script = Script()
    for step in PRE_STEPS[:-1]:
        script.passed(step, f"{step.split('.')[-1]} ok")
    script.add(EventKind.STEP_STARTED, step="preflight.migrations")
    return script.add(
        EventKind.STEP_WAITING,
        step="preflight.migrations",
        reason="1 migration finding(s) are not zero-downtime; an approver must waive with a reason",
        evidence={"migrations/0042_drop_legacy.py:12": "drop_column: users.legacy_id — stop using it first, drop next release"},
    )


def deploying(script: Script | None = None, progress_ticks: int = 6) -> Script:
    script = script or waiting_for_approval()
    script.add(EventKind.APPROVAL_GRANTED, advance=20, step="approval", by="alice", role="engineering-manager", reason="")
    script.passed("cut", "v1.4.0 on release/2026-11-20 pushed to origin")
    script.passed("image", "image v1.4.0 found")
    script.passed("announce.deploy", "posted to #releases: Deploying v1.4.0 to prod")
    script.add(EventKind.STEP_STARTED, step="deploy")
    stages = ["provision green", "health checks", "switch traffic", "drain blue"]
    for tick in range(progress_ticks):
        stage = min(3, tick // 2)
        statuses = [[name, "passed" if i < stage else "running" if i == stage else "pending"] for i, name in enumerate(stages)]
        script.add(
            EventKind.STEP_PROGRESSED,
            advance=3,
            step="deploy",
            message=f"{stages[stage]}: 4/4 tasks healthy",
            progress=(tick + 1) / 8,
            stage=stages[stage],
            healthy=min(4, tick + 1),
            desired=4,
            stages=statuses,
            log=[f"[{stages[stage]}] task {min(4, tick + 1)}/4 v1.4.0 ok", CORPUS if tick == 1 else "ok"],
        )
    return script


def watching(breach: bool = False, samples: int = 40) -> Script:
    script = deploying(progress_ticks=8)
    script.add(EventKind.PRODUCTION_CHANGED, version="v1.4.0", step="deploy")
    script.add(EventKind.STEP_PASSED, step="deploy", summary="v1.4.0 live on 4/4 tasks, blue drained")
    script.passed("verify.smoke", "5/5 critical paths pass on production", advance=3)
    script.add(EventKind.STEP_STARTED, step="watch")
    for index in range(samples):
        bad = breach and index >= samples - 4
        values = {
            "error_rate": 7.4 + (index % 3) * 0.1 if bad else 0.4 + (index % 5) * 0.05,
            "p95_latency": 2500.0 + index if bad else 300.0 + (index % 7) * 10,
            "queue_depth": 30.0 + (index % 4) * 5 if index != samples // 2 else None,
        }
        script.at += 60
        for name, value in values.items():
            script.add(EventKind.SAMPLE, advance=0, series=name, at=script.at, value=value)
    return script


def frozen_info(script: Script, *, identity: str = "alice", tmp: Path | None = None, **changes: Any) -> CockpitInfo:
    cfg = config()
    authority = Authority(roles=cfg.roles, approving_roles=("engineering-manager",), rollback_roles=cfg.release.rollback_roles)
    now = script.at + 5
    values: dict[str, Any] = dict(
        identity=identity,
        authority=authority,
        window_status=lambda at: (True, "Fri 14:00–17:00 America/Los_Angeles"),
        lock_holder="alice@bastion (pid 4242, since 2026-11-20 14:00:00 PST)",
        notes_path=(tmp / "r1.notes.md") if tmp else None,
        journal_path=Path("/var/lib/shipdeck/demo/production/releases/r1.jsonl"),
        journals=lambda: sorted(tmp.glob("*.jsonl")) if tmp else [],
        now=lambda: now,
    )
    values.update(changes)
    return CockpitInfo(**values)


def frozen_app(script: Script, *, theme: str = "dark", tmp: Path | None = None, link: FrozenLink | None = None, **info: Any) -> ShipdeckApp:
    link = link or FrozenLink(script.events)
    return ShipdeckApp(link, frozen_info(script, tmp=tmp, **info), history=script.events, start_runner=False, theme=theme)


def write_notes(tmp: Path) -> Path:
    path = tmp / "r1.notes.md"
    path.write_text(
        "## v1.4.0 (2026-11-20)\n\n### New Features ✨\n- Saved searches (#412)\n- " + CORPUS + "\n\n"
        "### Bug Fixes 🐛\n- Fix [b]bold[/b] rendering in tracker\n\nCompare: https://github.com/example/demo-product/compare/v1.3.0...v1.4.0\n",
        encoding="utf-8",
    )
    return path


def write_journals(tmp: Path) -> None:
    """Three finished releases and one in progress, as real journal files."""
    outcomes = [("v1.1.0", "done"), ("v1.2.0", "rolled_back"), ("v1.3.0", "done")]
    for index, (tag, outcome) in enumerate(outcomes):
        journal = Journal(tmp / f"2026110{index}T140000-{tag}.jsonl")
        journal.load()
        at = BASE - (len(outcomes) - index) * 7 * 86400
        data = dict(started(at=at).data, id=f"r{index}", tag=tag, version=tag[1:], previous_tag=f"v1.{index}.0")
        journal.append(EventKind.RELEASE_STARTED, data, at)
        state = fold(journal.load())
        if outcome == "rolled_back":
            journal.append(EventKind.PRODUCTION_CHANGED, {"version": tag, "step": "deploy"}, at + 900)
            journal.append(EventKind.ROLLBACK_REQUESTED, {"by": "alice", "reason": "error_rate 7.5% > 5% " + CORPUS, "target": f"v1.{index}.0"}, at + 1500)
            for step in ("rollback.announce", "rollback.deploy", "rollback.smoke", "rollback.done"):
                journal.append(EventKind.STEP_PASSED, {"step": step, "summary": "ok"}, at + 1700)
        else:
            for step in state.steps:
                if step.spec.group.value != "rollback":
                    journal.append(EventKind.STEP_PASSED, {"step": step.id, "summary": "ok"}, at + 3000)
        journal.close()


def lengthen_watch(config_path: Path, deploy_window: str = "8s") -> None:
    """The "test" pace watches for 3s; a regression needs a little longer to be sustained."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(re.sub(r'deploy_window = "[^"]*"', f'deploy_window = "{deploy_window}"', text), encoding="utf-8")


SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = ("dark", "light")


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Clock strings on screen in UTC whatever the host's zone (import into a test module)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
