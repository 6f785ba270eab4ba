"""The LaunchDarkly backend: real httpx semantic patches against a loopback fake of the API."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest

from fakes.launchdarkly_fake import FakeLaunchDarkly
from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.flags_base import FlagConflict, FlagState
from shipdeck.core.providers.launchdarkly import LaunchDarklyFlags
from shipdeck.core.secrets import Secret

TOKEN = "api-0000-test"


@pytest.fixture
def fake() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag("ai-copilot")
        yield server


def _backend(fake: FakeLaunchDarkly, token: str = TOKEN) -> LaunchDarklyFlags:
    return LaunchDarklyFlags(url=fake.url, token=Secret("LD_API_TOKEN", token), project="default", environment="production")


async def _steps(backend: LaunchDarklyFlags, *steps: tuple[str, Any]) -> list[FlagState]:
    states = [await backend.read("ai-copilot")]
    try:
        for step, arg in steps:
            version = states[-1].version
            if step == "team":
                states.append(await backend.enable_for_segment("ai-copilot", arg, version))
            elif step == "percent":
                states.append(await backend.set_percent("ai-copilot", arg, version))
            else:
                states.append(await backend.turn_off("ai-copilot", version))
    finally:
        await backend.aclose()
    return states


def test_the_ramp_sends_documented_semantic_patches(fake: FakeLaunchDarkly) -> None:
    states = asyncio.run(
        _steps(_backend(fake), ("team", "internal-staff"), ("percent", 10), ("percent", 100), ("percent", 0), ("off", None))
    )
    assert [s.stage for s in states] == ["off", "team", "10%", "100%", "team", "off"]
    # Turning on first zeroes the default rule (a new boolean flag serves true by default).
    assert fake.changes == [
        ("ai-copilot", ["addRule", "updateFallthroughVariationOrRollout", "turnFlagOn"]),
        ("ai-copilot", ["updateFallthroughVariationOrRollout"]),
        ("ai-copilot", ["updateFallthroughVariationOrRollout"]),
        ("ai-copilot", ["updateFallthroughVariationOrRollout"]),
        ("ai-copilot", ["turnFlagOff"]),
    ]
    env = fake.environment("ai-copilot")
    rule = env["rules"][0]
    assert rule["clauses"][0]["op"] == "segmentMatch" and rule["clauses"][0]["values"] == ["internal-staff"]
    assert rule["variation"] == 0  # serves true


def test_ten_percent_is_ten_thousand_thousandths(fake: FakeLaunchDarkly) -> None:
    asyncio.run(_steps(_backend(fake), ("team", "internal-staff"), ("percent", 10)))
    weights = {v["variation"]: v["weight"] for v in fake.environment("ai-copilot")["fallthrough"]["rollout"]["variations"]}
    assert weights == {0: 10_000, 1: 90_000}


def test_a_write_at_the_state_already_there_sends_nothing(fake: FakeLaunchDarkly) -> None:
    asyncio.run(_steps(_backend(fake), ("team", "internal-staff"), ("percent", 10), ("percent", 10), ("team", "internal-staff")))
    assert len(fake.changes) == 2


def test_a_stale_version_is_refused(fake: FakeLaunchDarkly) -> None:
    async def scenario() -> None:
        backend = _backend(fake)
        try:
            before = await backend.read("ai-copilot")
            await backend.enable_for_segment("ai-copilot", "internal-staff", before.version)
            with pytest.raises(FlagConflict, match="changed since it was read"):
                await backend.set_percent("ai-copilot", 10, before.version)
        finally:
            await backend.aclose()

    asyncio.run(scenario())
    assert len(fake.changes) == 1


def test_a_lost_answer_is_an_error_and_the_reread_shows_the_write(fake: FakeLaunchDarkly) -> None:
    fake.fail_next_patch_after_apply = 1

    async def scenario() -> FlagState:
        backend = _backend(fake)
        try:
            state = await backend.read("ai-copilot")
            with pytest.raises(ProviderError, match="502"):
                await backend.enable_for_segment("ai-copilot", "internal-staff", state.version)
            return await backend.read("ai-copilot")
        finally:
            await backend.aclose()

    assert asyncio.run(scenario()).stage == "team"


def test_bad_token_and_missing_flag_are_named(fake: FakeLaunchDarkly) -> None:
    async def scenario() -> None:
        backend = _backend(fake, token="api-wrong")
        try:
            with pytest.raises(ProviderError, match="401") as caught:
                await backend.read("ai-copilot")
            assert "api-wrong" not in str(caught.value)
        finally:
            await backend.aclose()
        backend = _backend(fake)
        try:
            with pytest.raises(ProviderError, match="404.*create the flag"):
                await backend.read("nope")
        finally:
            await backend.aclose()

    asyncio.run(scenario())
