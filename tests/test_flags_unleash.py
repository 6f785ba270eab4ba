"""The Unleash backend against a real unleash-server (and PostgreSQL) on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from typing import Any

import pytest

from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.flags_base import FlagConflict, FlagState
from shipdeck.core.providers.unleash import UnleashFlags
from shipdeck.core.secrets import Secret

from unleash_server import UnleashServer, unleash_server  # noqa: F401  (the fixture)

TEAM = ["alice", "bob"]


def _backend(server: UnleashServer) -> UnleashFlags:
    return UnleashFlags(url=server.url, token=Secret("UNLEASH_ADMIN_TOKEN", server.admin_token), project="default", environment="production")


def _new_flag(server: UnleashServer, name: str) -> None:
    with server.admin() as admin:
        assert admin.post("/api/admin/projects/default/features", json={"name": name}).status_code == 201
        segments = admin.get("/api/admin/segments").json()["segments"]
        if not any(s["name"] == "internal-staff" for s in segments):
            made = admin.post(
                "/api/admin/segments",
                json={"name": "internal-staff", "constraints": [{"contextName": "userId", "operator": "IN", "values": TEAM}]},
            )
            assert made.status_code == 201, made.text


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _through(backend: UnleashFlags, flag: str, *steps: tuple[str, Any]) -> list[FlagState]:
    states = [await backend.read(flag)]
    try:
        for step, arg in steps:
            version = states[-1].version
            if step == "team":
                states.append(await backend.enable_for_segment(flag, arg, version))
            elif step == "percent":
                states.append(await backend.set_percent(flag, arg, version))
            else:
                states.append(await backend.turn_off(flag, version))
    finally:
        await backend.aclose()
    return states


def test_ramp_off_team_ten_hundred_back_and_off(unleash_server: UnleashServer) -> None:
    _new_flag(unleash_server, "ramp-all")
    states = _run(
        _through(
            _backend(unleash_server), "ramp-all",
            ("team", "internal-staff"), ("percent", 10), ("percent", 100), ("percent", 0), ("off", None),
        )
    )
    assert [s.stage for s in states] == ["off", "team", "10%", "100%", "team", "off"]
    assert len({s.version for s in states}) == len(states)  # every change shows as a new version
    with unleash_server.admin() as admin:
        env = next(e for e in admin.get("/api/admin/projects/default/features/ramp-all").json()["environments"] if e["name"] == "production")
    titles = sorted(s["title"] for s in env["strategies"])
    assert titles == ["shipdeck:rollout", "shipdeck:team"]  # no default strategy slipped in when enabling
    assert env["enabled"] is False


def test_a_stale_version_is_refused_and_nothing_is_written(unleash_server: UnleashServer) -> None:
    _new_flag(unleash_server, "ramp-stale")

    async def scenario() -> tuple[FlagState, FlagState]:
        backend = _backend(unleash_server)
        try:
            before = await backend.read("ramp-stale")
            await backend.enable_for_segment("ramp-stale", "internal-staff", before.version)
            with pytest.raises(FlagConflict, match="changed since it was read"):
                await backend.set_percent("ramp-stale", 10, before.version)
            return before, await backend.read("ramp-stale")
        finally:
            await backend.aclose()

    _before, after = _run(scenario())
    assert after.stage == "team"


def test_missing_flag_and_segment_say_what_to_do(unleash_server: UnleashServer) -> None:
    _new_flag(unleash_server, "ramp-nosegment")

    async def scenario() -> None:
        backend = _backend(unleash_server)
        try:
            with pytest.raises(ProviderError, match="404.*create it in Unleash"):
                await backend.read("no-such-flag")
            state = await backend.read("ramp-nosegment")
            with pytest.raises(ProviderError, match="no segment named 'nobody'"):
                await backend.enable_for_segment("ramp-nosegment", "nobody", state.version)
        finally:
            await backend.aclose()

    _run(scenario())


def test_a_wrong_token_is_named(unleash_server: UnleashServer) -> None:
    async def scenario() -> None:
        backend = UnleashFlags(url=unleash_server.url, token=Secret("T", "*:*.wrong"), project="default", environment="production")
        try:
            with pytest.raises(ProviderError, match="401|403") as caught:
                await backend.read("anything")
            assert "wrong" not in str(caught.value)
        finally:
            await backend.aclose()

    _run(scenario())


def test_the_sdk_sees_about_ten_percent_after_the_ten_percent_stage(unleash_server: UnleashServer) -> None:
    from UnleashClient import UnleashClient

    _new_flag(unleash_server, "ramp-sdk")
    states = _run(_through(_backend(unleash_server), "ramp-sdk", ("team", "internal-staff"), ("percent", 10)))
    assert states[-1].stage == "10%"
    with tempfile.TemporaryDirectory() as cache:
        client = UnleashClient(
            url=f"{unleash_server.url}/api",
            app_name="shipdeck-test",
            environment="production",
            custom_headers={"Authorization": unleash_server.client_token},
            disable_metrics=True,
            disable_registration=True,
            cache_directory=cache,
        )
        client.initialize_client(fetch_toggles=True)
        try:
            users = [f"user-{n}" for n in range(4000)]
            enabled = sum(client.is_enabled("ramp-sdk", {"userId": user}) for user in users)
            team = [client.is_enabled("ramp-sdk", {"userId": user}) for user in TEAM]
        finally:
            client.destroy()
    assert 0.08 <= enabled / len(users) <= 0.12, f"{enabled} of {len(users)} users enabled"
    assert all(team)  # the team keeps the flag whatever the percentage


def _changes(server: UnleashServer, flag: str) -> list[str]:
    """Every change Unleash recorded for the flag, from its own event log (creation aside)."""
    with server.admin() as admin:
        events = admin.get(f"/api/admin/events/{flag}").json()["events"]
    return [e["type"] for e in events if e["type"] != "feature-created"]


def test_the_engine_ramps_an_unleash_flag_and_a_crash_at_every_line_changes_each_stage_once(unleash_server: UnleashServer, tmp_path: Any) -> None:
    from ramp_support import Crash, ramp_config, ramp_plan, run_ramp, start

    from shipdeck.core.machine import phase_of
    from shipdeck.core.model import Phase

    def backend() -> UnleashFlags:
        return _backend(unleash_server)

    expected: list[str] | None = None
    for crash_after in range(0, 16):  # 0: no crash, the count every crashed run must match
        flag = f"ai-copilot-{crash_after}"
        _new_flag(unleash_server, flag)
        run_dir = tmp_path / str(crash_after)
        run_dir.mkdir()
        config = ramp_config(run_dir, {"provider": "unleash", "url": unleash_server.url}, watch="0s")
        plan = [dataclasses.replace(step, params={**step.params, "flag": flag}) for step in ramp_plan(config)]
        path = run_dir / "journal.jsonl"
        if crash_after:
            with pytest.raises(Crash):
                run_ramp(path, config, backend, crash_after=crash_after, first_events=lambda j: start(j, config, plan))
        state, _ = run_ramp(path, config, backend, first_events=lambda j: start(j, config, plan))
        assert phase_of(state) is Phase.DONE, [(s.id, s.status, s.summary) for s in state.steps]
        assert state.flags[flag]["stage"] == "100%"
        changes = _changes(unleash_server, flag)
        if expected is None:
            expected = changes
            assert len(expected) == 4, expected  # team strategy, on, rollout strategy at 10 %, patched to 100 %
        assert changes == expected, f"crash after line {crash_after}"
