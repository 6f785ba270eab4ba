"""A headless release with `[deploy] provider = "github-actions"` and `[ci] provider = "github"`.

The real CLI in a subprocess against the GitHub fake on 127.0.0.1 (and a demo repository with
a bare origin for git): preflight asks GitHub, the deploy is a workflow dispatch, the notes
become a GitHub Release, and a kill between dispatch and outcome never dispatches twice.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from cli_support import fast_world, journal_events, shipdeck, spawn
from fakes.github_fake import FakeGitHub, running_fake
from git_support import git

from shipdeck.core.sandbox.demo import DemoWorld

TOKEN = "ghs_e2etoken456"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running_fake(token=TOKEN, step_seconds=0.05, green_by_default=True) as github:
        yield github


def github_world(tmp_path: Path, fake: FakeGitHub) -> DemoWorld:
    """The fast demo world with its simulated deployer and CI replaced by GitHub's, at the fake."""
    world = fast_world(tmp_path)
    text = world.config.read_text(encoding="utf-8")
    github = f'repository = "acme/shop"\napi_url = "{fake.url}"\ntoken_env = "SHIPDECK_TEST_GITHUB_TOKEN"\n'
    text = text.replace('[ci]\nprovider = "simulated"\n', f'[ci]\nprovider = "github"\n{github}')
    text = text.replace(
        '[deploy]\nprovider = "simulated"\nduration = "1s"\ntasks = 4\n',
        f'[deploy]\nprovider = "github-actions"\n{github}workflow = "deploy.yml"\npoll_interval = "0.05s"\n',
    )
    assert 'provider = "github-actions"' in text and 'provider = "github"' in text
    world.config.write_text(text, encoding="utf-8")
    fake.record_deployment("develop", "staging", "success", sha=git(world.origin, "rev-parse", "develop"))
    return world


def run_cli(world: DemoWorld, *args: str) -> Any:
    return shipdeck(world, *args, SHIPDECK_TEST_GITHUB_TOKEN=TOKEN)


def step_event(events: list[dict[str, Any]], kind: str, step: str) -> dict[str, Any]:
    return next(e for e in events if e["kind"] == kind and e["data"].get("step") == step)


def test_a_release_deploys_through_actions_and_publishes_a_github_release(tmp_path: Path, fake: FakeGitHub) -> None:
    world = github_world(tmp_path, fake)
    result = run_cli(world, "release", "--auto", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake.dispatches == 1 and fake.dispatch_bodies[0]["inputs"]["version"] == "v1.4.0"
    production = [d for d in fake.deployments if d["environment"] == "production"]
    assert [d["ref"] for d in production] == ["v1.4.0"]
    assert [s["state"] for s in fake.statuses[production[0]["id"]]] == ["in_progress", "success"]
    assert [r["tag_name"] for r in fake.releases] == ["v1.4.0"]
    assert "v1.4.0" in fake.releases[0]["body"] and "##" in fake.releases[0]["body"]
    events = journal_events(world)
    ci = step_event(events, "step_passed", "preflight.ci")
    evidence = dict(ci["data"]["evidence"])
    assert evidence["open PRs into develop"] == "none" and "the release commit" in evidence["staging"]
    published = step_event(events, "step_passed", "post.notes")
    assert "GitHub Release v1.4.0 created" in published["data"]["summary"]
    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN not in "".join(p.read_text() for p in (world.root / "state").rglob("*") if p.is_file())


def test_open_pull_requests_into_develop_wait_for_a_person(tmp_path: Path, fake: FakeGitHub) -> None:
    world = github_world(tmp_path, fake)
    fake.add_pull(431, "feat: saved searches")
    result = run_cli(world, "release", "--auto", "--yes")
    assert result.returncode == 4, result.stdout + result.stderr
    waiting = step_event(journal_events(world), "step_waiting", "preflight.ci")
    assert "1 pull request(s) into develop still open" in waiting["data"]["reason"]
    assert dict(waiting["data"]["evidence"])["open PRs into develop"] == "#431 feat: saved searches"
    assert fake.dispatches == 0


def test_staging_on_another_commit_waits_and_red_ci_fails_before_production(tmp_path: Path, fake: FakeGitHub) -> None:
    world = github_world(tmp_path, fake)
    fake.record_deployment("develop", "staging", "success", sha="0123456789abcdef")
    result = run_cli(world, "release", "--auto", "--yes")
    assert result.returncode == 4, result.stdout + result.stderr
    waiting = step_event(journal_events(world), "step_waiting", "preflight.ci")
    assert "staging runs 0123456789, not the release commit" in waiting["data"]["reason"]

    red = github_world(tmp_path / "red", fake)
    fake.green_by_default = False
    fake.check_runs[git(red.origin, "rev-parse", "develop")] = [{"name": "e2e", "status": "completed", "conclusion": "failure"}]
    result = run_cli(red, "release", "--auto", "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = step_event(journal_events(red), "step_failed", "preflight.ci")
    assert "CI failing" in failed["data"]["summary"] and "e2e" in failed["data"]["summary"]
    assert fake.dispatches == 0


def wait_for(world: DemoWorld, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (world.root / "state").glob("*/production/releases/*.jsonl"):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if predicate(json.loads(line)):
                        return
                except ValueError:
                    pass  # a line in mid-write
        time.sleep(0.01)
    raise AssertionError("event never journaled")


@pytest.mark.parametrize("point", ["dispatched", "deployment recorded"])
def test_killed_after_dispatch_resume_never_dispatches_twice(tmp_path: Path, fake: FakeGitHub, point: str) -> None:
    fake.step_seconds = 0.3  # a run long enough to be killed in the middle of
    world = github_world(tmp_path, fake)
    process = spawn(world, "release", "--auto", "--yes", SHIPDECK_TEST_GITHUB_TOKEN=TOKEN)
    try:
        if point == "dispatched":
            deadline = time.monotonic() + 60
            while fake.dispatches == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            wait_for(world, lambda e: e["kind"] == "intent" and e["data"]["step"] == "deploy")
            while not any(d["environment"] == "production" for d in fake.deployments):
                time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    resumed = run_cli(world, "resume", "--auto")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert fake.dispatches == 1
    events = journal_events(world)
    assert len([e for e in events if e["kind"] == "production_changed" and e["data"]["version"] == "v1.4.0"]) == 1
