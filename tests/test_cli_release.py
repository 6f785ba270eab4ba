"""The headless contract end to end: real CLI processes, a real repository and bare origin.

Every exit code is produced by a real scenario; the journal and the origin are checked for
what actually happened (tags pushed, rollback target, nothing deployed twice).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import CLI, environment, fast_world, journal_events, remote_tags, shipdeck, spawn

from shipdeck.core.sandbox.demo import DemoWorld

pytestmark = pytest.mark.slow


def _demo(root: Path, scenario: str, *extra: str):
    import subprocess

    return subprocess.Popen(
        [*CLI, "demo", "--auto", "--scenario", scenario, "--dir", str(root / scenario), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def _world_json(root: Path) -> dict:
    return json.loads((root / "world.json").read_text(encoding="utf-8"))


def _final_state(root: Path):
    from shipdeck.core.journal import Journal
    from shipdeck.core.machine import fold

    [path] = sorted(root.glob("state/*/production/releases/*.jsonl"))
    return fold(Journal(path).load(repair=False))


def test_demo_scenarios_through_the_cli(tmp_path: Path) -> None:
    """healthy → 0; regression and smoke failure → 3 (back on v1.3.0); blind → 5 (never released);
    deploy failure → 1 (production unchanged)."""
    runs = {name: _demo(tmp_path, name, *(["--json"] if name == "healthy" else [])) for name in
            ("healthy", "regression", "blind", "deploy-failure", "smoke-failure")}
    results = {name: (process.wait(timeout=150), *process.communicate()) for name, process in runs.items()}

    code, out, err = results["healthy"]
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0]["kind"] == "release_started" and records[-1]["phase"] == "done"
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    origin = tmp_path / "healthy" / "origin.git"
    tags = remote_tags(origin)
    assert "v1.4.0" in tags and "v1.3.0" in tags
    merged = subprocess.run(["git", "-C", str(origin), "merge-base", "--is-ancestor", "v1.4.0^{commit}", "main"])
    assert merged.returncode == 0, "the release branch was not merged into main on origin"
    assert _world_json(tmp_path / "healthy")["production_tag"] == "v1.4.0"
    posts = [p["text"] for p in _world_json(tmp_path / "healthy")["posts"]]
    assert posts == ["[rehearsal] Deploying v1.4.0 to prod", "[rehearsal] v1.4.0 deployed successfully"]

    code, out, err = results["regression"]
    assert code == 3, err
    assert "ROLLBACK to v1.3.0 requested automatically: sustained breach" in out
    world = _world_json(tmp_path / "regression")
    assert world["production_tag"] == "v1.3.0"
    assert any(p["text"].startswith("[rehearsal] Rolled back to v1.3.0 due to sustained breach") for p in world["posts"])
    assert "rolled back to v1.3.0" in err
    state = _final_state(tmp_path / "regression")  # the evidence survives the rollback
    assert state.step("watch").status.value == "failed" and "sustained breach" in state.step("watch").summary
    assert state.step("announce.success").summary.startswith("not run: rolled back")

    code, out, err = results["blind"]
    assert code == 5, err
    assert all(line.startswith("[rehearsal] ") for line in out.splitlines())  # the demo is marked on every line
    phases = {line.split()[2] for line in out.splitlines()}
    assert "watch" in phases and not phases & {"released", "finalize", "done"}
    assert "blind" in out and "PAGE A HUMAN" in err

    code, out, err = results["smoke-failure"]
    assert code == 3, err
    assert "apply to job (end-to-end) failed on production" in out
    assert _world_json(tmp_path / "smoke-failure")["production_tag"] == "v1.3.0"
    failed_smoke = _final_state(tmp_path / "smoke-failure").step("verify.smoke")
    assert failed_smoke.status.value == "failed" and "apply to job" in failed_smoke.summary
    assert dict(failed_smoke.evidence)["apply to job (end-to-end)"].startswith("FAILED")

    code, out, err = results["deploy-failure"]
    assert code == 1, err
    assert _world_json(tmp_path / "deploy-failure")["production_tag"] == "v1.3.0"
    assert "failed before production changed" in err
    posts = [p["text"] for p in _world_json(tmp_path / "deploy-failure")["posts"]]
    assert posts[0] == "[rehearsal] Deploying v1.4.0 to prod"  # and then what happened, not silence
    # shipdeck never deployed this product, so it names no version it cannot know runs (the ledger)
    assert posts[1].startswith("[rehearsal] v1.4.0 was not deployed: Deploy to production failed") and posts[1].endswith("Production still runs the previous version")


def test_waiting_for_approval_exits_4_then_approve_elsewhere_and_resume(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    first = shipdeck(world, "release", "--auto")
    assert first.returncode == 4, first.stderr
    assert "waiting for a person" in first.stderr and "Approval: engineering-manager" in first.stderr

    other = shipdeck(world, "release", "--auto", "--type", "hotfix")
    assert other.returncode == 2 and "v1.4.0 (regular) is already in progress" in other.stderr

    refused = shipdeck(world, "approve", SHIPDECK_USER="mallory")
    assert refused.returncode == 1 and "does not hold a role" in refused.stderr

    approved = shipdeck(world, "approve", "--reason", "notes read, staging green")
    assert approved.returncode == 0, approved.stderr
    grant = [e for e in journal_events(world) if e["kind"] == "approval_granted"]
    assert grant[0]["data"]["by"] == "captain" and grant[0]["data"]["reason"] == "notes read, staging green"

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "v1.4.0" in remote_tags(world.origin)


def test_rollback_is_refused_before_production_changed(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto").returncode == 4
    refused = shipdeck(world, "rollback", "--reason", "nervous")
    assert refused.returncode == 1
    assert "production has not changed yet (still v1.3.0)" in refused.stderr


def test_a_second_captain_is_told_who_holds_the_release(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    captain = spawn(world, "release", "--auto", "--yes")
    try:
        deadline = time.monotonic() + 30
        while not list((world.root / "state").glob("*/production/releases/*.jsonl")):
            assert time.monotonic() < deadline, "the first release never started"
            time.sleep(0.05)
        second = shipdeck(world, "release", "--auto", "--yes", SHIPDECK_USER="bob")
        assert second.returncode == 4
        assert "held by captain@" in second.stderr and "pid" in second.stderr
        watcher = shipdeck(world, "watch", "--json", SHIPDECK_USER="bob")  # read-only, needs no lock
        assert watcher.returncode == 0, watcher.stderr
        records = [json.loads(line) for line in watcher.stdout.splitlines()]
        assert records[0]["kind"] == "release_started" and records[-1]["phase"] == "done"
    finally:
        assert captain.wait(timeout=120) == 0, captain.communicate()[1]


def _wait_for_event(world: DemoWorld, predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(predicate(e) for e in journal_events(world)):
                return
        except (AssertionError, ValueError):
            pass  # not written yet, or a line in mid-write
        time.sleep(0.01)
    raise AssertionError("event never journaled")


KILL_POINTS = {
    "after the cut intent": lambda e: e["kind"] == "intent" and e["data"]["step"] == "cut",
    "after the push": lambda e: e["kind"] == "outcome" and e["data"]["key"].endswith(":cut:1"),
    "before the announcement": lambda e: e["kind"] == "intent" and e["data"]["step"] == "announce.deploy",
    "mid-deploy": lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy",
    "mid-watch": lambda e: e["kind"] == "sample",
    "before the merge": lambda e: e["kind"] == "intent" and e["data"]["step"] == "post.merge",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_anywhere_resume_finishes_without_doing_anything_twice(tmp_path: Path, point: str) -> None:
    world = fast_world(tmp_path)
    process = spawn(world, "release", "--auto", "--yes")
    _wait_for_event(world, KILL_POINTS[point])
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 0, resumed.stderr
    assert "took over the release lock" in resumed.stderr
    events = journal_events(world)
    changes = [e for e in events if e["kind"] == "production_changed" and e["data"]["version"] == "v1.4.0"]
    assert len(changes) == 1
    deploys = [d for d in _world_json(world.root)["deploys"].values() if d["tag"] == "v1.4.0"]
    assert len(deploys) == 1, deploys  # followed the running deploy instead of starting another
    posts = [p["text"] for p in _world_json(world.root)["posts"]]
    assert posts == ["[rehearsal] Deploying v1.4.0 to prod", "[rehearsal] v1.4.0 deployed successfully"]
    assert "v1.4.0" in remote_tags(world.origin)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_rollback_from_another_terminal_after_a_blind_watch(tmp_path: Path) -> None:
    world = fast_world(tmp_path, "blind")
    first = shipdeck(world, "release", "--auto", "--yes")
    assert first.returncode == 5, first.stderr
    rolled = shipdeck(world, "rollback", "--reason", "metrics blind, playing safe")
    assert rolled.returncode == 3, rolled.stderr
    assert _world_json(world.root)["production_tag"] == "v1.3.0"
    requested = [e for e in journal_events(world) if e["kind"] == "rollback_requested"]
    assert requested[0]["data"]["by"] == "captain" and requested[0]["data"]["target"] == "v1.3.0"
    status = shipdeck(world, "status", "--json")
    assert json.loads(status.stdout)["phase"] == "rolled_back"


def test_bare_shipdeck_without_an_active_release_offers_one_and_starts_nothing(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    result = shipdeck(world)
    assert result.returncode == 0
    assert "no active release" in result.stderr and "shipdeck release" in result.stderr
    assert not list((world.root / "state").glob("*/production/releases/*.jsonl"))


def test_status_explains_a_blind_watch_with_its_evidence(tmp_path: Path) -> None:
    """The verdict that stops a release says what it rests on: queries, samples, blind periods."""
    world = fast_world(tmp_path, "blind")
    assert shipdeck(world, "release", "--auto", "--yes", "--force").returncode == 5
    status = shipdeck(world, "status")
    assert status.returncode == 0, status.stderr
    assert "waiting  Watch metrics" in status.stdout
    assert "error_rate query: 100 * errors / hits" in status.stdout
    assert "samples" in status.stdout and "blind" in status.stdout
