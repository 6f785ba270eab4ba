"""The ECR image check: boto3 against moto's real server on 127.0.0.1, and the check_image step.

The step's wait runs on a VirtualClock inside a real release (the demo world's repository and
journal, with `[image] provider = "ecr"`), so twenty minutes of polling every 15 s take
milliseconds while every poll is a real describe_images call.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import pytest

from cli_support import fast_world
from fakes.aws_moto import REGION, client, moto_server, push_image, reset
from shipdeck.core.clock import VirtualClock
from shipdeck.core.events import EventKind
from shipdeck.core.model import StepStatus
from shipdeck.core.providers.aws_session import AwsClients, AwsError
from shipdeck.core.providers.ecr import EcrImages
from shipdeck.core.session import Options, open_session

TAG = "v1.4.0"  # the demo world's next release


@pytest.fixture(scope="module")
def aws_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def ecr(aws_url: str) -> str:
    reset(aws_url)
    client("ecr", aws_url).create_repository(repositoryName="web")
    return aws_url


def images(url: str, repository: str = "web") -> EcrImages:
    return EcrImages(AwsClients(REGION, url), repository)


def test_a_pushed_image_is_found_with_its_digest_and_push_time(ecr: str) -> None:
    digest = push_image(ecr, "web", TAG)
    exists, detail, evidence = asyncio.run(images(ecr).image_details(TAG))
    assert exists and evidence["digest"] == digest and evidence["image"] == f"web:{TAG}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", evidence["pushed at"])
    assert datetime.strptime(evidence["pushed at"], "%Y-%m-%dT%H:%M:%SZ").year >= 2024
    assert detail.startswith(f"web:{TAG} is in ECR ({digest[:19]}")


def test_an_absent_tag_is_not_there_yet(ecr: str) -> None:
    push_image(ecr, "web", "v1.3.0")
    exists, detail, evidence = asyncio.run(images(ecr).image_details(TAG))
    assert not exists and evidence == {}
    assert detail == f"no image web:{TAG} in ECR ({REGION}, {ecr}) yet"


def test_a_missing_repository_is_an_error_not_a_wait(ecr: str) -> None:
    with pytest.raises(AwsError, match="RepositoryNotFoundException.*check the names in shipdeck.toml"):
        asyncio.run(images(ecr, "wbe").image_details(TAG))


def test_doctor_reads_the_repository(ecr: str) -> None:
    rows = asyncio.run(images(ecr).check())
    assert rows[0].ok and "readable" in rows[0].detail
    rows = asyncio.run(images(ecr, "wbe").check())
    assert not rows[0].ok and "RepositoryNotFoundException" in rows[0].detail


# -- the check_image step in a real release -------------------------------------------------------


def ecr_world(root: Path, url: str, **image: str) -> Any:
    world = fast_world(root)
    settings = {"provider": "ecr", "repository": "web", "region": REGION, "endpoint_url": url, **image}
    table = "".join(f'{key} = "{value}"\n' for key, value in settings.items())
    text = world.config.read_text(encoding="utf-8")
    assert '[image]\nprovider = "simulated"\n' in text
    world.config.write_text(text.replace('[image]\nprovider = "simulated"\n', f"[image]\n{table}"), encoding="utf-8")
    return world


def run_release(world: Any, clock: VirtualClock, on_event: Any = None) -> tuple[Any, list[Any]]:
    session = open_session(Options(config_path=world.config, repo_path=world.repo, auto=True, assume_yes=True, force=True), clock=clock)
    seen: list[Any] = []

    def record(event: Any, state: Any) -> None:
        seen.append(event)
        if on_event is not None:
            on_event(event)

    session.runner.subscribe(record)
    try:
        state = asyncio.run(session.runner.run())
    finally:
        session.close()
    return state, seen


def image_events(seen: list[Any], kind: EventKind) -> list[Any]:
    return [e for e in seen if e.kind is kind and e.data.get("step") == "image"]


def test_the_step_passes_with_digest_and_push_time_as_evidence(ecr: str, tmp_path: Path) -> None:
    digest = push_image(ecr, "web", TAG)
    state, seen = run_release(ecr_world(tmp_path, ecr), VirtualClock())
    step = state.step("image")
    assert step.status is StepStatus.PASSED, step.summary
    evidence = dict(image_events(seen, EventKind.STEP_PASSED)[0].data["evidence"])
    assert evidence["digest"] == digest and "pushed at" in evidence


def test_the_step_waits_for_ci_and_passes_when_the_image_appears(ecr: str, tmp_path: Path) -> None:
    clock = VirtualClock()

    def push_on_third_poll(event: Any) -> None:
        if event.kind is EventKind.STEP_PROGRESSED and event.data.get("step") == "image" and "asked 3 times" in event.data["message"]:
            push_image(ecr, "web", TAG)

    state, seen = run_release(ecr_world(tmp_path, ecr, wait="20m"), clock, push_on_third_poll)
    assert state.step("image").status is StepStatus.PASSED, state.step("image").summary
    waits = [e.data["message"] for e in image_events(seen, EventKind.STEP_PROGRESSED)]
    assert len(waits) == 3 and all(f"no image web:{TAG} in ECR" in m for m in waits)
    assert "(19m45s left, asked 2 times)" in waits[1], waits[1]


def test_the_step_fails_clearly_after_the_wait(ecr: str, tmp_path: Path) -> None:
    clock = VirtualClock()
    started = clock.now()
    state, seen = run_release(ecr_world(tmp_path, ecr, wait="20m"), clock)
    step = state.step("image")
    assert step.status is StepStatus.FAILED
    assert step.summary.startswith(f"no image web:{TAG} after 20m; CI may have failed: check the CI build of {TAG}")
    polls = image_events(seen, EventKind.STEP_PROGRESSED)
    assert 79 <= len(polls) <= 81  # one poll every 15 s for 20 minutes
    assert 20 * 60 <= clock.now() - started < 21 * 60
    assert not [e for e in seen if e.kind is EventKind.PRODUCTION_CHANGED]  # nothing was deployed
    assert state.step("deploy").status is StepStatus.PENDING


def test_without_credentials_doctor_says_how_to_give_them(ecr: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    rows = asyncio.run(images(ecr).check())
    assert not rows[0].ok
    assert "no AWS credentials found; export AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in rows[0].detail


def test_the_settings_are_validated_with_the_key_named() -> None:
    from shipdeck.core.providers.registry import SettingError, production_registry

    spec = production_registry().get("image", "ecr")
    assert spec is not None
    with pytest.raises(SettingError) as raised:
        spec.validate({"provider": "ecr", "repository": "web"})
    assert raised.value.key == "region"
    values = spec.validate({"provider": "ecr", "repository": "web", "region": REGION})
    assert values["wait"] == 1200.0 and values["poll"] == 15.0  # 20 minutes, a poll every 15 s
    with pytest.raises(SettingError, match="duration"):
        spec.validate({"provider": "ecr", "repository": "web", "region": REGION, "wait": "soon"})
