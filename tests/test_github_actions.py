"""The GitHub Actions deployer against the loopback fake: dispatch, follow, deployments, resume."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import pytest
from fakes.github_fake import FakeGitHub, running_fake

from shipdeck.core.providers.base import DeployProgress, ProviderError
from shipdeck.core.providers.github_actions import ActionsSettings, GitHubActionsDeployer
from shipdeck.core.providers.github_api import GitHubClient
from shipdeck.core.secrets import Secret

TOKEN = "ghs_faketoken123"
KEY = "rel-1:deploy:1"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running_fake(token=TOKEN, step_seconds=0.02) as github:
        yield github


def deployer(fake: FakeGitHub, request_timeout: float = 5.0, **settings: Any) -> GitHubActionsDeployer:
    client = GitHubClient(Secret("GITHUB_TOKEN", TOKEN), api_url=fake.url, timeout=request_timeout)
    values: dict[str, Any] = {"repository": "acme/shop", "workflow": "deploy.yml", "poll_interval": 0.02, "find_run_within": 1.0, **settings}
    return GitHubActionsDeployer(client, ActionsSettings(**values))


class Progress:
    def __init__(self) -> None:
        self.reports: list[DeployProgress] = []

    async def __call__(self, report: DeployProgress) -> None:
        self.reports.append(report)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def deploy(fake: FakeGitHub, tag: str, key: str = KEY, **settings: Any) -> tuple[Any, Progress]:
    actions = deployer(fake, **settings)
    progress = Progress()
    try:
        return await actions.deploy(tag, key, progress), progress
    finally:
        await actions.close()


def ask(fake: FakeGitHub, method: str, *args: Any) -> Any:
    """One deployer method through a fresh client (closed after)."""

    async def go() -> Any:
        actions = deployer(fake)
        try:
            return await getattr(actions, method)(*args)
        finally:
            await actions.close()

    return run(go())


def states(fake: FakeGitHub, deployment_index: int = -1) -> list[str]:
    deployment = fake.deployments[deployment_index]
    return [s["state"] for s in fake.statuses[deployment["id"]]]


def test_dispatch_with_run_details_follows_jobs_and_steps_to_success(fake: FakeGitHub) -> None:
    result, progress = run(deploy(fake, "v1.4.0"))
    assert result.production_changed and result.tag == "v1.4.0"
    assert fake.dispatches == 1
    assert fake.dispatch_bodies[0]["inputs"] == {"version": "v1.4.0", "key": KEY}
    assert fake.dispatch_bodies[0]["return_run_details"] is True
    followed = [r for r in progress.reports if r.stage == "run"]
    assert followed[-1].progress == 1.0
    assert ("deploy › Blue-green switch", "success") in followed[-1].stages
    assert any(r.progress is not None and 0 < r.progress < 1 for r in followed), "no intermediate progress was seen"
    assert fake.deployments[-1]["ref"] == "v1.4.0" and fake.deployments[-1]["environment"] == "production"
    assert states(fake) == ["in_progress", "success"]


def test_older_server_without_run_details_finds_the_run_by_key(fake: FakeGitHub) -> None:
    fake.legacy = True
    result, _ = run(deploy(fake, "v1.4.0"))
    assert result.production_changed
    assert fake.dispatches == 1 and "return_run_details" not in fake.dispatch_bodies[0]
    assert KEY in fake.runs[0].name


def test_a_workflow_without_the_key_input_is_a_clear_error(fake: FakeGitHub) -> None:
    fake.errors["/repos/acme/shop/actions/workflows/deploy.yml/dispatches"] = (422, 'Unexpected inputs provided: ["key"]')
    with pytest.raises(ProviderError) as error:
        run(deploy(fake, "v1.4.0"))
    assert "Unexpected inputs provided" in str(error.value) and "dispatches" in str(error.value)
    assert fake.dispatches == 0 and states(fake) == ["error"]


def test_failed_step_is_named_and_production_unchanged(fake: FakeGitHub) -> None:
    fake.fail_step["v1.4.0"] = "Health check"
    result, _ = run(deploy(fake, "v1.4.0"))
    assert not result.production_changed
    assert "Health check" in result.summary and result.evidence["failed step"] == "deploy › Health check"
    assert states(fake) == ["in_progress", "failure"]


def test_dispatch_that_times_out_after_the_run_exists_is_not_repeated(fake: FakeGitHub) -> None:
    fake.hang_after_dispatch = 1.0
    result, _ = run(deploy(fake, "v1.4.0", request_timeout=0.3))
    assert result.production_changed
    assert fake.dispatches == 1


def test_a_second_deploy_with_the_same_key_never_dispatches_again(fake: FakeGitHub) -> None:
    run(deploy(fake, "v1.4.0"))
    result, _ = run(deploy(fake, "v1.4.0"))
    assert result.production_changed
    assert fake.dispatches == 1 and len(fake.deployments) == 1


def test_reconcile_after_a_crash_follows_the_dispatched_run(fake: FakeGitHub) -> None:
    fake.step_seconds = 0.1

    async def crash_after_dispatch() -> None:
        actions = deployer(fake)
        task = asyncio.create_task(actions.deploy("v1.4.0", KEY, Progress()))
        while fake.dispatches == 0:
            await asyncio.sleep(0.01)
        task.cancel()  # the runner dies between the dispatch and its outcome
        await asyncio.gather(task, return_exceptions=True)
        await actions.close()

    run(crash_after_dispatch())

    result = ask(fake, "reconcile", "v1.4.0", KEY, Progress())
    assert result is not None and result.production_changed
    assert fake.dispatches == 1
    assert states(fake)[-1] == "success"


def test_reconcile_of_a_deploy_that_never_reached_github_is_none(fake: FakeGitHub) -> None:
    assert ask(fake, "reconcile", "v1.4.0", KEY, Progress()) is None


def test_reconcile_refuses_to_guess_when_the_run_cannot_be_found(fake: FakeGitHub) -> None:
    fake.run_name = "deploy {version}"  # a workflow whose run-name does not echo the key
    fake.record_deployment("v1.4.0", "production", "in_progress")
    fake.deployments[-1]["payload"] = {"shipdeck_key": KEY}
    asyncio.run(_dispatch_by_hand(fake))

    with pytest.raises(ProviderError, match="run-name"):
        ask(fake, "reconcile", "v1.4.0", KEY, Progress())
    assert fake.dispatches == 1


def test_reconcile_after_a_crash_before_the_dispatch_deploys_once(fake: FakeGitHub) -> None:
    fake.record_deployment("v1.4.0", "production", "in_progress")
    fake.deployments[-1]["payload"] = {"shipdeck_key": KEY}  # the record, then the crash
    assert ask(fake, "reconcile", "v1.4.0", KEY, Progress()) is None
    assert fake.dispatches == 0


async def _dispatch_by_hand(fake: FakeGitHub) -> None:
    client = GitHubClient(Secret("GITHUB_TOKEN", TOKEN), api_url=fake.url)
    try:
        await client.request("POST", "/repos/acme/shop/actions/workflows/deploy.yml/dispatches", json={"ref": "main", "inputs": {"version": "v1.4.0", "key": KEY}})
    finally:
        await client.close()


def test_a_run_past_its_timeout_is_cancelled_and_production_unchanged(fake: FakeGitHub) -> None:
    fake.step_seconds = 5.0
    result, _ = run(deploy(fake, "v1.4.0", timeout=0.3))
    assert not result.production_changed and "cancelled" in result.summary
    assert fake.runs[0].cancelled_at is not None
    assert states(fake)[-1] == "failure"


def test_running_is_the_latest_successful_deployment(fake: FakeGitHub) -> None:
    assert ask(fake, "running").version is None
    run(deploy(fake, "v1.3.0", key="k-1"))
    fake.fail_step["v1.4.0"] = "Pull image"
    run(deploy(fake, "v1.4.0", key="k-2"))
    now = ask(fake, "running")
    assert now.version == "v1.3.0" and now.restore == {"version": "v1.3.0"}


def test_rollback_is_the_same_dispatch_with_the_previous_version(fake: FakeGitHub) -> None:
    run(deploy(fake, "v1.4.0", key="rel-1:deploy:1"))
    result, _ = run(deploy(fake, "v1.3.0", key="rel-1:rollback.deploy:1"))
    assert result.production_changed and result.tag == "v1.3.0"
    assert fake.dispatch_bodies[-1]["inputs"]["version"] == "v1.3.0"
    assert "rollback" in fake.deployments[-1]["description"]
    # How long it takes is measured by benchmarks/rollback_time.py, never asserted here.
