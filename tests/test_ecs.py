"""The ECS deployer: boto3 against moto's real server on 127.0.0.1, rollouts scripted in moto's backend.

moto's ECS never moves a rollout forward, so tests/fakes/aws_ecs_rollout.py plays one out the
way ECS does (a new PRIMARY deployment on update_service, tasks coming up or failing, the
circuit breaker rolling back) and counts register_task_definition / update_service calls at
the backend, whoever made them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Iterator

import pytest

from fakes.aws_ecs_rollout import ScriptedRollouts
from fakes.aws_moto import CREDENTIALS, REGION, client, moto_server, reset
from shipdeck.core.clock import SystemClock
from shipdeck.core.providers.aws_session import AwsClients
from shipdeck.core.providers.base import DeployProgress, ProviderError
from shipdeck.core.providers.ecs import KEY_TAG, EcsDeployer

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
KEY = "r1:deploy:1"


@pytest.fixture(scope="module")
def aws_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


class World:
    """A cluster `prod` with service `web` (2 tasks) steady on task definition web:1 running v1.0.0."""

    def __init__(self, url: str, outcome: str, step: float = 0.03) -> None:
        self.url = url
        self.ecs = client("ecs", url)
        self.ecs.create_cluster(clusterName="prod")
        self.first = self.register(f"{IMAGE}:v1.0.0")
        self.ecs.create_service(cluster="prod", serviceName="web", taskDefinition=self.first, desiredCount=2)
        self.rollouts = ScriptedRollouts(outcome, step).install()
        self.rollouts.settle("prod", "web")
        self.reports: list[DeployProgress] = []

    def register(self, image: str, tags: list[dict[str, str]] | None = None) -> str:
        answer = self.ecs.register_task_definition(
            family="web",
            containerDefinitions=[
                {"name": "web", "image": image, "memory": 512, "environment": [{"name": "MODE", "value": "prod"}]},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.30", "memory": 128},
            ],
            tags=tags or [{"key": "team", "value": "payments"}],
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def deployer(self, container: str = "web", timeout: float = 10.0) -> EcsDeployer:
        return EcsDeployer(AwsClients(REGION, self.url), cluster="prod", service="web", container=container, image=IMAGE, clock=SystemClock(), timeout=timeout, poll=0.01)

    async def progress(self, report: DeployProgress) -> None:
        self.reports.append(report)

    def service_task_definition(self) -> str:
        return str(self.ecs.describe_services(cluster="prod", services=["web"])["services"][0]["taskDefinition"])

    def definition(self, arn: str) -> dict[str, Any]:
        return self.ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])


@pytest.fixture
def world_factory(aws_url: str) -> Iterator[Any]:
    made: list[World] = []

    def make(outcome: str = "complete", step: float = 0.03) -> World:
        reset(aws_url)
        made.append(World(aws_url, outcome, step))
        return made[-1]

    yield make
    for world in made:
        world.rollouts.stop()


def test_running_says_the_tag_and_how_to_restore(world_factory: Any) -> None:
    world = world_factory()
    running = asyncio.run(world.deployer().running())
    assert running.version == "v1.0.0"
    assert running.restore == {"task_definition": world.first}
    assert "web:1" in running.detail


def test_running_is_unknown_when_the_container_runs_another_repository(world_factory: Any) -> None:
    world = world_factory()
    other = world.register("nginx:1.27")
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=other)
    running = asyncio.run(world.deployer().running())
    assert running.version is None
    assert "nginx:1.27" in running.detail and running.restore == {"task_definition": other}


def test_deploy_registers_a_revision_with_the_tag_and_follows_it_to_completed(world_factory: Any) -> None:
    world = world_factory()
    result = asyncio.run(world.deployer().deploy("v1.1.0", KEY, world.progress))

    assert result.production_changed, result.summary
    target = world.service_task_definition()
    assert target.endswith("task-definition/web:2") and result.evidence["task definition"] == target
    described = world.definition(target)
    containers = {c["name"]: c for c in described["taskDefinition"]["containerDefinitions"]}
    assert containers["web"]["image"] == f"{IMAGE}:v1.1.0"
    assert containers["web"]["environment"] == [{"name": "MODE", "value": "prod"}]  # everything else copied
    assert containers["envoy"]["image"] == "envoyproxy/envoy:v1.30"
    tags = {t["key"]: t["value"] for t in described["tags"]}
    assert tags == {"team": "payments", KEY_TAG: KEY, "shipdeck-version": "v1.1.0"}
    assert world.rollouts.calls == {"register_task_definition": 1, "update_service": 1}
    # Progress followed the rollout task by task, then steady.
    healthy = [r.healthy for r in world.reports if r.stage == "roll out"]
    assert healthy[0] == 0 and healthy == sorted(healthy) and len(set(healthy)) >= 2, healthy
    assert world.reports[-1].stage == "steady" and world.reports[-1].progress == 1.0 and world.reports[-1].healthy == 2
    assert all(r.desired == 2 for r in world.reports)
    assert any("started a deployment" in line for r in world.reports for line in r.log)
    text = repr(world.reports) + repr(result)
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in text and CREDENTIALS["AWS_ACCESS_KEY_ID"] not in text


def test_a_failing_rollout_reports_no_production_change_with_the_reason(world_factory: Any) -> None:
    world = world_factory("fail")
    result = asyncio.run(world.deployer().deploy("v1.1.0", KEY, world.progress))
    assert not result.production_changed
    assert "failed: ECS deployment circuit breaker: tasks failed to start." in result.summary
    assert max(r.message.count("3 failed") for r in world.reports) == 1
    assert ("roll out", "failed") in world.reports[-1].stages


def test_a_circuit_breaker_rollback_says_what_production_went_back_to(world_factory: Any) -> None:
    world = world_factory("circuit_breaker")
    result = asyncio.run(world.deployer().deploy("v1.1.0", KEY, world.progress))
    assert not result.production_changed
    assert "circuit breaker rolled web back to web:1" in result.summary
    assert world.service_task_definition() == world.first
    assert ("roll out", "failed") in world.reports[-1].stages


def test_resume_after_a_crash_between_update_and_outcome_follows_the_same_deployment(world_factory: Any) -> None:
    world = world_factory(step=0.2)

    async def crash_after_update() -> None:
        task = asyncio.create_task(world.deployer().deploy("v1.1.0", KEY, world.progress))
        while world.rollouts.calls["update_service"] == 0:
            await asyncio.sleep(0.005)
        task.cancel()  # the process died here: the service is updating, no outcome journaled
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(crash_after_update())
    fresh = world.deployer()  # a new process
    result = asyncio.run(fresh.reconcile("v1.1.0", KEY, world.progress))
    assert result is not None and result.production_changed, result
    # And a deploy of the same tag (what a runner does when it cannot reconcile) writes nothing.
    again = asyncio.run(fresh.deploy("v1.1.0", "r1:deploy:2", world.progress))
    assert again.production_changed
    assert world.rollouts.calls == {"register_task_definition": 1, "update_service": 1}


def test_reconcile_says_never_started_when_the_service_was_not_touched(world_factory: Any) -> None:
    world = world_factory()
    assert asyncio.run(world.deployer().reconcile("v1.1.0", KEY, world.progress)) is None
    assert world.rollouts.calls == {}


def test_a_revision_registered_before_a_crash_is_reused_not_registered_again(world_factory: Any) -> None:
    world = world_factory()
    # As if the deployer registered it, then died before update_service.
    left = world.register(f"{IMAGE}:v1.1.0", tags=[{"key": KEY_TAG, "value": KEY}])
    with pytest.raises(ProviderError, match="registered for this deploy .* but the service does not run it"):
        asyncio.run(world.deployer().reconcile("v1.1.0", KEY, world.progress))
    calls_before = world.rollouts.calls["register_task_definition"]
    result = asyncio.run(world.deployer().deploy("v1.1.0", KEY, world.progress))
    assert result.production_changed and world.service_task_definition() == left
    assert world.rollouts.calls["register_task_definition"] == calls_before
    assert world.rollouts.calls["update_service"] == 1


def test_rollback_with_restore_returns_the_service_to_the_exact_task_definition(world_factory: Any) -> None:
    world = world_factory()
    deployer = world.deployer()
    before = asyncio.run(deployer.running())
    asyncio.run(deployer.deploy("v1.1.0", KEY, world.progress))
    assert world.service_task_definition() != world.first

    result = asyncio.run(deployer.deploy("v1.0.0", "r1:rollback:1", world.progress, restore=before.restore))

    assert result.production_changed and world.service_task_definition() == world.first
    assert world.rollouts.calls == {"register_task_definition": 1, "update_service": 2}  # no revision for a rollback
    # How long it takes is measured by benchmarks/rollback_time.py, never asserted here.


def test_a_rollout_that_never_finishes_makes_production_unknown(world_factory: Any) -> None:
    world = world_factory("hold")
    with pytest.raises(ProviderError, match="Production state is unknown") as raised:
        asyncio.run(world.deployer(timeout=1.0).deploy("v1.1.0", KEY, world.progress))
    assert "describe-services --cluster prod --services web" in str(raised.value)


def test_a_wrong_container_name_is_refused_naming_the_containers_there(world_factory: Any) -> None:
    world = world_factory()
    with pytest.raises(ProviderError, match=r"no container named 'api' \(it has: web, envoy\); fix \[deploy\] container"):
        asyncio.run(world.deployer(container="api").deploy("v1.1.0", KEY, world.progress))
    assert world.rollouts.calls == {}


def test_doctor_reads_the_service_and_names_a_missing_one(world_factory: Any) -> None:
    world = world_factory()
    rows = asyncio.run(world.deployer().check())
    assert [row.ok for row in rows] == [True] and "v1.0.0" in rows[0].detail
    missing = EcsDeployer(AwsClients(REGION, world.url), cluster="prod", service="api", container="web", image=IMAGE, clock=SystemClock())
    rows = asyncio.run(missing.check())
    assert not rows[0].ok and "MISSING" in rows[0].detail and "check cluster and service in [deploy]" in rows[0].detail


# -- one whole release, headless, with [image] ecr and [deploy] ecs ----------------------------


def aws_release_world(root: Any, url: str) -> Any:
    from cli_support import fast_world

    world = fast_world(root)
    text = world.config.read_text(encoding="utf-8")
    image = f'[image]\nprovider = "ecr"\nrepository = "web"\nregion = "{REGION}"\nendpoint_url = "{url}"\nwait = "10s"\n'
    deploy = (
        f'[deploy]\nprovider = "ecs"\ncluster = "prod"\nservice = "web"\ncontainer = "web"\nimage = "{IMAGE}"\n'
        f'region = "{REGION}"\nendpoint_url = "{url}"\ntimeout = "30s"\npoll = "0.02s"\n'
    )
    for old, new in (('[image]\nprovider = "simulated"\n', image), ('[deploy]\nprovider = "simulated"\nduration = "1s"\ntasks = 4\n', deploy)):
        assert old in text
        text = text.replace(old, new)
    world.config.write_text(text, encoding="utf-8")
    return world


def test_a_headless_release_deploys_to_ecs_and_a_rollback_restores_the_previous_image(world_factory: Any, tmp_path: Any) -> None:
    from fakes.aws_moto import push_image
    from shipdeck.core.commands import Command
    from shipdeck.core.events import EventKind
    from shipdeck.core.model import Phase
    from shipdeck.core.machine import phase_of
    from shipdeck.core.session import Options, open_session

    world = world_factory()
    previous = world.register(f"{IMAGE}:v1.3.0")  # production runs the demo's previous release
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=previous)
    world.rollouts.wait_steady(previous)
    world.rollouts.steady_at.clear()
    world.rollouts.calls.clear()
    client("ecr", world.url).create_repository(repositoryName="web")
    push_image(world.url, "web", "v1.4.0")
    release = aws_release_world(tmp_path, world.url)
    session = open_session(Options(config_path=release.config, repo_path=release.repo, auto=True, assume_yes=True, force=True))
    decided: list[float] = []
    answers: list[Any] = []

    def roll_back_once_live(event: Any, state: Any) -> None:
        if event.kind is EventKind.PRODUCTION_CHANGED and event.data.get("version") == "v1.4.0" and not decided:
            decided.append(time.monotonic())
            answers.append(session.runner.submit(Command("rollback", "captain", reason="testing the way back", typed_target="v1.3.0")))

    session.runner.subscribe(roll_back_once_live)
    try:
        state = asyncio.run(session.runner.run())
    finally:
        session.close()

    assert [a.result() for a in answers] == [None]
    assert phase_of(state) is Phase.ROLLED_BACK, phase_of(state)
    assert state.step("image").status.value == "passed"
    serving = world.definition(world.service_task_definition())["taskDefinition"]["containerDefinitions"][0]["image"]
    assert serving == f"{IMAGE}:v1.3.0"
    assert world.rollouts.calls["update_service"] == 2  # the deploy and the rollback, once each
    rolled_to = world.service_task_definition()
    back_on_old = world.rollouts.started_at[rolled_to] - decided[0]
    steady = world.rollouts.steady_at[rolled_to] - decided[0]
    print(f"ECS rollback in a headless release against moto: service updated {back_on_old * 1000:.0f} ms after the decision, steady after {steady * 1000:.0f} ms")
    assert back_on_old < 5.0


DRIVER = """
import asyncio, os, sys
from pathlib import Path
from shipdeck.core.session import Options, open_session

config, repo = sys.argv[1:]
session = open_session(Options(config_path=Path(config), repo_path=Path(repo), auto=True, assume_yes=True, force=True))

def crash(event, state):
    # The first progress of the deploy comes after update_service: the process dies with the rollout under way.
    if event.kind.value == "step_progressed" and event.data.get("step") == "deploy":
        os._exit(137)

session.runner.subscribe(crash)
asyncio.run(session.runner.run())
sys.exit(3)  # the crash point was never reached
"""


def test_a_release_killed_mid_rollout_resumes_without_deploying_twice(world_factory: Any, tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    from fakes.aws_moto import push_image
    from shipdeck.core.events import EventKind
    from shipdeck.core.machine import phase_of
    from shipdeck.core.model import Phase
    from shipdeck.core.session import Options, open_session

    world = world_factory(step=0.3)
    previous = world.register(f"{IMAGE}:v1.3.0")
    world.ecs.update_service(cluster="prod", service="web", taskDefinition=previous)
    world.rollouts.wait_steady(previous)
    world.rollouts.calls.clear()
    client("ecr", world.url).create_repository(repositoryName="web")
    push_image(world.url, "web", "v1.4.0")
    release = aws_release_world(tmp_path, world.url)

    driver = subprocess.run([sys.executable, "-c", DRIVER, str(release.config), str(release.repo)], capture_output=True, text=True, timeout=120)
    assert driver.returncode == 137, driver.stderr[-2000:]
    assert world.rollouts.calls == {"register_task_definition": 1, "update_service": 1}

    resumed = open_session(Options(config_path=release.config, repo_path=release.repo, auto=True, assume_yes=True, force=True))
    try:
        state = asyncio.run(resumed.runner.run())
    finally:
        resumed.close()
    assert phase_of(state) is Phase.DONE, (state.step("deploy").status, state.step("deploy").summary)
    assert world.rollouts.calls == {"register_task_definition": 1, "update_service": 1}
    events = [json.loads(line) for line in resumed.runner.journal.path.read_text(encoding="utf-8").splitlines()]
    deploys = [e["data"] for e in events if e["kind"] == EventKind.OUTCOME.value and e["data"]["key"].split(":")[-2] == "deploy"]
    assert [(d["status"], d["result"].get("reconciled")) for d in deploys] == [("done", True)]  # followed, not redone
    serving = world.definition(world.service_task_definition())["taskDefinition"]["containerDefinitions"][0]["image"]
    assert serving == f"{IMAGE}:v1.4.0"


def test_the_ecs_settings_are_validated_with_the_key_named() -> None:
    from shipdeck.core.providers.registry import SettingError, production_registry

    spec = production_registry().get("deploy", "ecs")
    assert spec is not None
    table = {"provider": "ecs", "cluster": "prod", "service": "web", "image": IMAGE, "region": REGION}
    with pytest.raises(SettingError) as raised:
        spec.validate(table)
    assert raised.value.key == "container"
    values = spec.validate({**table, "container": "web"})
    assert values["timeout"] == 900.0 and values["poll"] == 5.0 and values["endpoint_url"] == ""
