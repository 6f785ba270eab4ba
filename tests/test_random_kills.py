"""Kills at random moments, for every demo scenario, then resume to the end (issue 14).

Each scenario's release is killed twice: `shipdeck release --auto` with SIGKILL after a random
wall-clock delay, then a resumed run exactly after a random journal line (a driver that
`os._exit`s from a subscriber, as in test_resume_points.py). A last `resume` finishes it.
Then the side effects are counted where they happened: the bare origin (a hook logs every
ref update), the simulated world (deploys, traffic switches, posts) and the journal.

Two more tests aim the kill inside git: while origin's pre-receive hook runs (the push dies
half-way), and while the captain's clone holds a remote-tracking ref lock after origin
accepted the push (a reference-transaction hook holds it; issue 14 section 2).

The seeds are fixed so a failure reproduces; set SHIPDECK_KILL_SEED to explore others. Every
assertion message carries the seed and the kill points.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_support import CLI, environment, fast_world, shipdeck
from lifetime_world import check_never_passed_blind

from shipdeck.core.exit_codes import exit_code_for
from shipdeck.core.journal import Journal
from shipdeck.core.machine import fold, is_terminal
from shipdeck.core.sandbox.demo import DemoWorld

EXPECTED_EXIT = {"healthy": 0, "regression": 3, "smoke-failure": 3, "deploy-failure": 1, "blind": 5}
EXPECTED_SWITCHES = {
    "healthy": ["v1.4.0"],
    "regression": ["v1.4.0", "v1.3.0"],
    "smoke-failure": ["v1.4.0", "v1.3.0"],
    "deploy-failure": [],
    "blind": ["v1.4.0"],
}
HEADLESS = ("--auto", "--yes", "--force")

# A resumed run that exits right after its N-th journaled event (N counts this run's events).
DRIVER = """
import asyncio, os, sys
from pathlib import Path
from shipdeck.core.config import load_config
from shipdeck.core.machine import is_terminal
from shipdeck.core.session import Options, open_session, store_for

config, repo, line = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
latest = store_for(load_config(config), repo, "production").latest()
if latest is not None and is_terminal(latest[2]):
    sys.exit(0)  # the release ended before the first kill
# `release` resumes an active release, and starts it again when the first kill came before
# its first journal line.
session = open_session(Options(config_path=config, repo_path=repo, auto=True, assume_yes=True, force=True))
seen = 0

def crash(event, state):
    global seen
    seen += 1
    if seen >= line:
        os._exit(137)

session.runner.subscribe(crash)
asyncio.run(session.runner.run())
session.close()
sys.exit(0)  # ended before the chosen line
"""

POST_RECEIVE = """#!/bin/sh
# Every ref update origin accepts, one line each: old new ref.
cat >> "$(dirname "$0")/../pushes.log"
"""

PRE_RECEIVE_SLOW = """#!/bin/sh
# Once armed, the first push waits here long enough to be killed.
cat > /dev/null
if [ -f "{armed}" ]; then rm -f "{armed}"; touch "{holding}"; sleep 30; fi
exit 0
"""

REFERENCE_TRANSACTION_SLOW = """#!/bin/sh
# Once armed, hold the lock of a remote-tracking release ref after origin accepted the push.
[ "$1" = prepared ] || exit 0
if grep -q " refs/remotes/origin/release/" && [ -f "{armed}" ]; then
  rm -f "{armed}"; touch "{holding}"; sleep 30
fi
exit 0
"""


@dataclass
class Trial:
    """What was done to one release, for the assertion messages."""

    scenario: str
    seed: int
    log: list[str] = field(default_factory=list)
    stderr: str = ""  # of the last resume

    def __str__(self) -> str:
        return f"scenario {self.scenario}, seed {self.seed} (SHIPDECK_KILL_SEED={self.seed}): " + "; ".join(self.log)


def _seed(scenario: str) -> int:
    explicit = os.environ.get("SHIPDECK_KILL_SEED")
    return int(explicit) if explicit else zlib.crc32(scenario.encode())


def _hook(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


def _journal(world: DemoWorld) -> Path | None:
    paths = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))
    return paths[-1] if paths else None


def _spawn(world: DemoWorld, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "--config", str(world.config), "--repo", str(world.repo), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment(), start_new_session=True,
    )


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def _kill_at_random_time(world: DemoWorld, trial: Trial, rng: random.Random) -> None:
    delay = round(rng.uniform(0.5, 7.0), 2)
    process = _spawn(world, "release", *HEADLESS)
    try:
        process.wait(timeout=delay)
        trial.log.append(f"release ended by itself (exit {process.returncode}) before the kill at {delay}s")
    except subprocess.TimeoutExpired:
        _kill_group(process)
        trial.log.append(f"release SIGKILLed after {delay}s")
    _dead_for(trial, rng)


def _dead_for(trial: Trial, rng: random.Random) -> None:
    """Time passes before someone resumes (blind_after is 1s at the test pace)."""
    downtime = round(rng.uniform(0.0, 2.5), 2)
    time.sleep(downtime)
    trial.log.append(f"dead for {downtime}s")


def _kill_at_random_line(world: DemoWorld, trial: Trial, rng: random.Random) -> None:
    line = rng.randint(1, 60)
    driver = subprocess.run([sys.executable, "-c", DRIVER, str(world.config), str(world.repo), str(line)],
                            capture_output=True, text=True, timeout=120, env=environment())
    killed = driver.returncode == 137
    trial.log.append(f"resumed run {'killed after' if killed else 'ended before'} its journal line {line}")
    assert driver.returncode in (0, 137), f"{trial}: the driver failed: {driver.stderr[-2000:]}"
    if killed:
        _dead_for(trial, rng)


def _finish(world: DemoWorld, trial: Trial) -> int:
    """Resume until the release stops by itself; the exit code it ends with."""
    path = _journal(world)
    if path is not None and is_terminal(fold(Journal(path).load(repair=False))):
        state = fold(Journal(path).load(repair=False))
        trial.log.append("already over before the last resume")
        return int(exit_code_for(state))
    verb = "resume" if path is not None else "release"
    result = shipdeck(world, verb, *HEADLESS)
    trial.log.append(f"{verb} exited {result.returncode}")
    trial.stderr = result.stderr
    return result.returncode


def _check_side_effects(world: DemoWorld, trial: Trial, exit_code: int) -> None:
    scenario = trial.scenario
    assert exit_code == EXPECTED_EXIT[scenario], (
        f"{trial}: exit {exit_code}, expected {EXPECTED_EXIT[scenario]}. Last stderr:\n{trial.stderr[-1500:]}"
    )
    assert "Traceback" not in trial.stderr, f"{trial}: the last resume printed a traceback:\n{trial.stderr[-3000:]}"
    path = _journal(world)
    assert path is not None, f"{trial}: no journal"
    events = Journal(path).load(repair=False)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"{trial}: journal sequence is not 1..n: {seqs[:5]}…"
    assert int(exit_code_for(fold(events))) == EXPECTED_EXIT[scenario], f"{trial}: the journal's own verdict differs from {exit_code}"
    try:
        check_never_passed_blind(events, interval=0.25)
    except AssertionError as error:
        raise AssertionError(f"{trial}: {error}") from None

    world_state = json.loads((world.root / "world.json").read_text(encoding="utf-8"))
    switches = [s["tag"] for s in world_state.get("switches", [])]
    assert switches == EXPECTED_SWITCHES[scenario], f"{trial}: production switched to {switches}"
    deploy_keys = sorted(world_state["deploys"])
    for step in ("deploy", "rollback.deploy"):
        keys = [k for k in deploy_keys if f":{step}:" in k]
        assert len(keys) <= 1, f"{trial}: {step} deployed under {len(keys)} keys: {keys}"
    posts = [(p["key"], p["text"]) for p in world_state["posts"]]
    assert len({k for k, _ in posts}) == len(posts) and len({t for _, t in posts}) == len(posts), f"{trial}: duplicated posts {posts}"

    pushes = (world.origin / "pushes.log").read_text(encoding="utf-8").splitlines() if (world.origin / "pushes.log").exists() else []
    refs = [line.split()[2] for line in pushes if line.strip()]
    tags = [r for r in refs if r.startswith("refs/tags/")]
    assert len(tags) == len(set(tags)), f"{trial}: a tag was pushed more than once: {tags}"
    if scenario != "deploy-failure" or "refs/tags/v1.4.0" in tags:
        assert tags == ["refs/tags/v1.4.0"], f"{trial}: tags pushed {tags}"
    branches = [r for r in refs if r.startswith("refs/heads/release/")]
    assert len(branches) <= 1, f"{trial}: release branch pushed {len(branches)} times"


def _world(tmp_path: Path, scenario: str) -> DemoWorld:
    world = fast_world(tmp_path / scenario, scenario)
    _hook(world.origin / "hooks" / "post-receive", POST_RECEIVE)
    return world


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(EXPECTED_EXIT))
def test_random_kills_then_resume(tmp_path: Path, scenario: str) -> None:
    seed = _seed(scenario)
    rng = random.Random(seed)
    trial = Trial(scenario, seed)
    world = _world(tmp_path, scenario)
    _kill_at_random_time(world, trial, rng)
    _kill_at_random_line(world, trial, rng)
    _check_side_effects(world, trial, _finish(world, trial))


def _kill_while(world: DemoWorld, trial: Trial, holding: Path) -> None:
    process = _spawn(world, "release", *HEADLESS)
    deadline = time.monotonic() + 60
    while not holding.exists():
        assert process.poll() is None, f"{trial}: release ended (exit {process.returncode}) before git held: {process.stderr.read() if process.stderr else ''}"
        assert time.monotonic() < deadline, f"{trial}: git never reached the hook"
        time.sleep(0.02)
    _kill_group(process)


@pytest.mark.slow
def test_kill_inside_git_push_on_origin(tmp_path: Path) -> None:
    """SIGKILL while origin's pre-receive hook runs: the push dies; resume pushes and releases."""
    world = _world(tmp_path, "healthy")
    armed, holding = world.root / "armed", world.root / "holding"
    armed.touch()
    _hook(world.origin / "hooks" / "pre-receive", PRE_RECEIVE_SLOW.format(armed=armed, holding=holding))
    trial = Trial("healthy", 0, ["release SIGKILLed (process group) while origin's pre-receive hook ran for the cut's push"])
    _kill_while(world, trial, holding)
    _check_side_effects(world, trial, _finish(world, trial))


@pytest.mark.slow
def test_kill_while_git_holds_a_tracking_ref_lock(tmp_path: Path) -> None:
    """Origin accepted the cut; git dies holding refs/remotes/origin/release/….lock. Resume must
    not call the cut failed (issue 14 section 2): origin has the tag and the branch."""
    world = _world(tmp_path, "healthy")
    armed, holding = world.root / "armed", world.root / "holding"
    armed.touch()
    _hook(world.repo / ".git" / "hooks" / "reference-transaction", REFERENCE_TRANSACTION_SLOW.format(armed=armed, holding=holding))
    trial = Trial("healthy", 0, ["release SIGKILLed (process group) while git held a remote-tracking ref lock after the cut's push"])
    _kill_while(world, trial, holding)
    stale = sorted(str(p.relative_to(world.repo / ".git")) for p in (world.repo / ".git" / "refs").rglob("*.lock"))
    trial.log.append(f"stale locks left: {stale or 'none'}")
    _check_side_effects(world, trial, _finish(world, trial))
