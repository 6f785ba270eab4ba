"""Crash and resume in every demo scenario: a failure stays a failure, a breach or a blind
watch seen before the crash still counts after it, and the settings the release started with
are the ones it finishes on (issue 7, defects 5-7)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_support import fast_world

from shipdeck.core.exit_codes import ExitCode, exit_code_for
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase, StepStatus
from shipdeck.core.session import Options, open_session

DRIVER = """
import asyncio, os, sys
from pathlib import Path
from shipdeck.core.session import Options, open_session

config, repo, kind, step, nth = sys.argv[1:]
session = open_session(Options(config_path=Path(config), repo_path=Path(repo), auto=True, assume_yes=True, force=True))
seen = 0

def crash(event, state):
    global seen
    here = not step or event.data.get("step") == step or f":{step}:" in str(event.data.get("key", ""))
    if event.kind.value == kind and here:
        seen += 1
        if seen >= int(nth):
            os._exit(137)

session.runner.subscribe(crash)
asyncio.run(session.runner.run())
sys.exit(3)  # the crash point was never reached
"""


def _crash(world, kind: str, step: str = "", nth: int = 1) -> None:
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, str(world.config), str(world.repo), kind, step, str(nth)],
        capture_output=True, text=True, timeout=120,
    )
    assert driver.returncode == 137, driver.stderr


def _resume(world):
    session = open_session(Options(config_path=world.config, repo_path=world.repo, auto=True, assume_yes=True, force=True))
    try:
        return asyncio.run(session.runner.run())
    finally:
        session.close()


def _world(world) -> dict:
    return json.loads((world.root / "world.json").read_text(encoding="utf-8"))


def test_a_failed_deploy_stays_failed_after_a_crash_between_its_outcome_and_its_result(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "deploy-failure")
    _crash(world, "outcome", "deploy")
    state = _resume(world)
    assert state.step("deploy").status is StepStatus.FAILED
    assert phase_of(state) is Phase.FAILED and exit_code_for(state) is ExitCode.FAILED
    assert state.step("verify.smoke").status is StepStatus.PENDING
    assert _world(world)["production_tag"] == "v1.3.0"
    assert not any("deployed successfully" in p["text"] for p in _world(world)["posts"])


def test_a_breach_seen_before_a_crash_is_still_rolled_back_after_it(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "regression")
    _crash(world, "sample", nth=12)  # a few polls into the breach
    state = _resume(world)
    assert phase_of(state) is Phase.ROLLED_BACK and exit_code_for(state) is ExitCode.ROLLED_BACK
    assert _world(world)["production_tag"] == "v1.3.0"
    assert not any("deployed successfully" in p["text"] for p in _world(world)["posts"])


def test_a_blind_watch_is_not_passed_by_a_restart(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "blind")
    _crash(world, "sample", nth=15)  # blind by now
    state = _resume(world)
    assert phase_of(state) is Phase.WATCH
    assert state.step("watch").status is StepStatus.WAITING and "blind" in state.step("watch").summary
    assert exit_code_for(state) is ExitCode.PAGE
    assert not any("deployed successfully" in p["text"] for p in _world(world)["posts"])


def test_a_failed_smoke_test_after_a_crash_still_rolls_back_with_its_evidence(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "smoke-failure")
    _crash(world, "step_started", "verify.smoke")
    state = _resume(world)
    assert phase_of(state) is Phase.ROLLED_BACK
    assert state.step("verify.smoke").status is StepStatus.FAILED


def test_a_resumed_release_keeps_the_settings_it_started_with(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "healthy")
    _crash(world, "approval_granted", "approval")
    text = world.config.read_text(encoding="utf-8")
    changed = re.sub(r'deploy_window = "[^"]+"', 'deploy_window = "2h"', text)
    assert changed != text
    world.config.write_text(changed, encoding="utf-8")
    state = _resume(world)
    assert phase_of(state) is Phase.DONE
    assert state.watch("watch").duration == 3.0  # the test pace's window, not today's 2h


def test_a_cut_nobody_can_reconcile_waits_for_a_person_instead_of_failing(tmp_path: Path) -> None:
    """Issue 14, section 2: unknown is recorded as unknown, never as failed."""
    world = fast_world(tmp_path, "healthy")
    _crash(world, "intent", "cut")
    hidden = world.origin.with_name("origin-away.git")
    world.origin.rename(hidden)  # origin unreachable: nobody can say whether the push happened
    state = _resume(world)
    cut = state.step("cut")
    assert cut.status is StepStatus.WAITING and "cannot tell whether cut happened" in cut.summary
    assert phase_of(state) is Phase.CUT and exit_code_for(state) is ExitCode.WAITING
    hidden.rename(world.origin)
    state = _resume(world)  # `shipdeck resume` asks again, and the release goes on
    assert phase_of(state) is Phase.DONE
    assert state.step("cut").status is StepStatus.PASSED


def test_a_resumed_watch_backfills_the_gap_from_the_metrics_source(tmp_path: Path) -> None:
    """Datadog (the demo's real provider against its loopback fake) fills in what the dead run missed."""
    world = fast_world(tmp_path, "healthy")
    _crash(world, "sample", nth=6)
    time.sleep(2.0)  # shipdeck is down longer than blind_after (1 s at the test pace)
    state = _resume(world)
    assert phase_of(state) is Phase.DONE  # not blind: the gap was backfilled and healthy
    from shipdeck.core.journal import Journal

    [path] = sorted(world.root.glob("state/*/production/releases/*.jsonl"))
    events = Journal(path).load(repair=False)
    assert any(e.kind.value == "sample" and e.data.get("backfilled") for e in events)
    assert any(e.kind.value == "step_progressed" and "backfilled" in str(e.data.get("message")) for e in events)
