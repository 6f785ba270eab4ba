"""Unleash as a flag backend, over its admin API with httpx.

shipdeck owns two `flexibleRollout` strategies on the flag in the release's environment, told
apart by their titles: `shipdeck:team` (100 % of the team segment) and `shipdeck:rollout`
(N % of everyone, its `rollout` parameter patched with a JSON patch). Strategies a person added
are left alone but count in the version, so a hand edit between our read and our write is
refused instead of overwritten. Unleash has no compare-and-set on strategies: the check is a
read just before the write, which narrows the race to milliseconds, and the reread after the
write shows what really happened.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import ProviderError
from .flags_base import FlagConflict, FlagState, digest
from .flags_spec import flag_provider
from .registry import Check, Setting

TEAM_TITLE = "shipdeck:team"
ROLLOUT_TITLE = "shipdeck:rollout"


class UnleashFlags:
    """The FlagBackend for one Unleash project and environment."""

    def __init__(self, *, url: str, token: Any, project: str, environment: str, timeout: float = 10.0, transport: Any = None) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.project = project
        self.environment = environment
        self._client = httpx.AsyncClient(
            base_url=self.url,
            # The token is revealed into the client's headers only, never into a local a traceback shows.
            headers={"Authorization": token.reveal(), "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    # -- the Protocol ------------------------------------------------------------------------

    async def read(self, flag: str) -> FlagState:
        return _state(flag, await self._environment(flag))

    async def enable_for_segment(self, flag: str, segment: str, expected_version: str) -> FlagState:
        env = await self._expect(flag, expected_version)
        segment_id = await self._segment_id(segment)
        team = _strategy(env, TEAM_TITLE)
        if team is None:
            await self._request("POST", f"{self._env_path(flag)}/strategies", json=_flexible(TEAM_TITLE, flag, 100, [segment_id]))
        elif list(team.get("segments") or []) != [segment_id] or _rollout(team) != 100:
            await self._request("PUT", f"{self._env_path(flag)}/strategies/{team['id']}", json=_flexible(TEAM_TITLE, flag, 100, [segment_id]))
        if not env.get("enabled"):
            # After the team strategy exists: enabling an environment without strategies makes
            # Unleash add a default strategy that serves everyone.
            await self._request("POST", f"{self._env_path(flag)}/on")
        return await self.read(flag)

    async def set_percent(self, flag: str, percent: int, expected_version: str) -> FlagState:
        if not 0 <= percent <= 100:
            raise ProviderError(f"Unleash: a rollout is 0 to 100 %, not {percent}")
        env = await self._expect(flag, expected_version)
        rollout = _strategy(env, ROLLOUT_TITLE)
        if rollout is None and percent > 0:
            await self._request("POST", f"{self._env_path(flag)}/strategies", json=_flexible(ROLLOUT_TITLE, flag, percent, []))
        elif rollout is not None and _rollout(rollout) != percent:
            patch = [{"op": "replace", "path": "/parameters/rollout", "value": str(percent)}]
            await self._request("PATCH", f"{self._env_path(flag)}/strategies/{rollout['id']}", json=patch)
        return await self.read(flag)

    async def turn_off(self, flag: str, expected_version: str) -> FlagState:
        env = await self._expect(flag, expected_version)
        if env.get("enabled"):
            await self._request("POST", f"{self._env_path(flag)}/off")
        return await self.read(flag)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- doctor --------------------------------------------------------------------------------

    async def check(self, flags: list[str]) -> list[Check]:
        checks: list[Check] = []
        try:
            await self._request("GET", f"/api/admin/projects/{self.project}")
            checks.append(Check(True, "Unleash reachable", f"{self.url} project {self.project}"))
        except ProviderError as error:
            return [Check(False, "Unleash reachable", str(error))]
        for flag in flags:
            try:
                state = await self.read(flag)
                checks.append(Check(True, f"flag {flag}", f"{self.environment}: {state.stage}"))
            except ProviderError as error:
                checks.append(Check(False, f"flag {flag}", str(error)))
        return checks

    # -- helpers -------------------------------------------------------------------------------

    def _env_path(self, flag: str) -> str:
        return f"/api/admin/projects/{self.project}/features/{flag}/environments/{self.environment}"

    async def _environment(self, flag: str) -> Mapping[str, Any]:
        feature = await self._request("GET", f"/api/admin/projects/{self.project}/features/{flag}")
        for env in feature.get("environments") or []:
            if isinstance(env, Mapping) and env.get("name") == self.environment:
                return env
        raise ProviderError(
            f"Unleash: flag {flag!r} has no environment {self.environment!r} in project {self.project!r}; "
            "enable that environment for the project in Unleash, or fix [flags] environment"
        )

    async def _expect(self, flag: str, expected_version: str) -> Mapping[str, Any]:
        env = await self._environment(flag)
        found = _state(flag, env).version
        if found != expected_version:
            raise FlagConflict(f"Unleash: flag {flag!r} changed since it was read (version {expected_version} → {found}); read it again")
        return env

    async def _segment_id(self, name: str) -> int:
        body = await self._request("GET", "/api/admin/segments")
        for segment in body.get("segments") or []:
            if isinstance(segment, Mapping) and segment.get("name") == name:
                return int(segment["id"])
        raise ProviderError(f"Unleash: no segment named {name!r}; create it (who is the team) in Unleash, or fix team_segment in [[flags.ramp]]")

    async def _request(self, method: str, path: str, json: Any = None) -> Any:
        import httpx

        try:
            response = await self._client.request(method, path, json=json)
        except httpx.HTTPError as error:
            raise ProviderError(f"Unleash: {method} {self.url}{path} failed: {error.__class__.__name__}: {error}") from None
        if response.status_code == 404:
            raise ProviderError(f"Unleash: {method} {path} answered 404: the project, flag or environment does not exist; create it in Unleash first")
        if response.status_code in (401, 403):
            raise ProviderError(f"Unleash: {method} {path} answered {response.status_code}: the token is not an admin token for project {self.project!r}")
        if response.status_code >= 400:
            raise ProviderError(f"Unleash: {method} {path} answered {response.status_code}: {response.text[:300]}")
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"Unleash: {method} {path} answered something that is not JSON") from None


def _strategy(env: Mapping[str, Any], title: str) -> Mapping[str, Any] | None:
    for strategy in env.get("strategies") or []:
        if isinstance(strategy, Mapping) and strategy.get("title") == title and not strategy.get("disabled"):
            return strategy
    return None


def _rollout(strategy: Mapping[str, Any]) -> int:
    raw = (strategy.get("parameters") or {}).get("rollout", 0)
    try:
        return int(str(raw))
    except ValueError:
        raise ProviderError(f"Unleash: strategy {strategy.get('title')!r} has rollout {raw!r}, not a percentage") from None


def _flexible(title: str, flag: str, percent: int, segments: list[int]) -> dict[str, Any]:
    return {
        "name": "flexibleRollout",
        "title": title,
        "parameters": {"rollout": str(percent), "stickiness": "default", "groupId": flag},
        "constraints": [],
        "segments": segments,
    }


def _state(flag: str, env: Mapping[str, Any]) -> FlagState:
    team, rollout = _strategy(env, TEAM_TITLE), _strategy(env, ROLLOUT_TITLE)
    strategies = [
        {k: s.get(k) for k in ("id", "name", "title", "parameters", "segments", "constraints", "disabled")}
        for s in env.get("strategies") or []
        if isinstance(s, Mapping)
    ]
    return FlagState(
        flag=flag,
        enabled=bool(env.get("enabled")),
        team=team is not None and _rollout(team) == 100 and bool(team.get("segments")),
        percent=_rollout(rollout) if rollout is not None else 0,
        version=digest({"enabled": bool(env.get("enabled")), "strategies": strategies}),
    )


PROVIDERS = (
    flag_provider(
        "unleash",
        "Unleash feature flags: the team → N % → 100 % ramp over the admin API",
        UnleashFlags,
        url=Setting("url", required=True, help="the Unleash base URL, like https://unleash.example.com"),
        token_env="UNLEASH_ADMIN_TOKEN",
        token_help="the environment variable holding an admin API token",
        example={"provider": "unleash", "url": "https://unleash.example.com", "token_env": "UNLEASH_ADMIN_TOKEN", "project": "default"},
    ),
)
