"""LaunchDarkly as a flag backend: semantic patches over httpx.

`PATCH /api/v2/flags/{project}/{flag}` with `Content-Type: application/json;
domain-model=launchdarkly.semanticpatch`. The team is a targeting rule (described
`shipdeck:team`) whose clause matches the team segment and serves the `true` variation; the
percentage is the default rule's rollout, weights in thousandths of a percent (10 % = 10000).
The flag's `_version` is the version a write expects: it is read just before the write and a
change in between is refused.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import ProviderError
from .flags_base import FlagConflict, FlagState
from .flags_spec import flag_provider
from .registry import Check, Setting

TEAM_RULE = "shipdeck:team"
SEMANTIC_PATCH = "application/json; domain-model=launchdarkly.semanticpatch"
WHOLE = 100_000  # rollout weights are thousandths of a percent


class LaunchDarklyFlags:
    """The FlagBackend for one LaunchDarkly project and environment (boolean flags)."""

    def __init__(self, *, url: str, token: Any, project: str, environment: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.project = project
        self.environment = environment
        self._client = httpx.AsyncClient(base_url=self.url, headers={"Authorization": token.reveal()}, timeout=timeout)

    async def read(self, flag: str) -> FlagState:
        return _state(flag, await self._flag(flag), self.environment)

    async def enable_for_segment(self, flag: str, segment: str, expected_version: str) -> FlagState:
        body = await self._expect(flag, expected_version)
        env, on_id = _env(body, self.environment), _variation_id(body, True)
        instructions: list[dict[str, Any]] = []
        if _team_rule(env) is None:
            instructions.append(
                {
                    "kind": "addRule",
                    "description": TEAM_RULE,
                    "clauses": [{"contextKind": "user", "attribute": "segmentMatch", "op": "segmentMatch", "negate": False, "values": [segment]}],
                    "variationId": on_id,
                }
            )
        if not env.get("on"):
            if _percent(body, env) > 0 or _fallthrough_serves_everyone(body, env):
                # Turning targeting on must not serve a stale default rule to everyone.
                instructions.append(_rollout(body, 0))
            instructions.append({"kind": "turnFlagOn"})
        if instructions:
            await self._patch(flag, instructions, f"shipdeck: {flag} on for segment {segment}")
        return await self.read(flag)

    async def set_percent(self, flag: str, percent: int, expected_version: str) -> FlagState:
        if not 0 <= percent <= 100:
            raise ProviderError(f"LaunchDarkly: a rollout is 0 to 100 %, not {percent}")
        body = await self._expect(flag, expected_version)
        if _percent(body, _env(body, self.environment)) != percent:
            await self._patch(flag, [_rollout(body, percent)], f"shipdeck: {flag} to {percent} %")
        return await self.read(flag)

    async def turn_off(self, flag: str, expected_version: str) -> FlagState:
        body = await self._expect(flag, expected_version)
        if _env(body, self.environment).get("on"):
            await self._patch(flag, [{"kind": "turnFlagOff"}], f"shipdeck: {flag} off")
        return await self.read(flag)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def check(self, flags: list[str]) -> list[Check]:
        checks: list[Check] = []
        for flag in flags:
            try:
                checks.append(Check(True, f"flag {flag}", f"{self.environment}: {(await self.read(flag)).stage}"))
            except ProviderError as error:
                checks.append(Check(False, f"flag {flag}", str(error)))
        return checks or [Check(True, "LaunchDarkly", "no flag to ramp is configured")]

    async def _flag(self, flag: str) -> Mapping[str, Any]:
        body = await self._request("GET", f"/api/v2/flags/{self.project}/{flag}", params={"env": self.environment})
        _env(body, self.environment)  # refuse a flag without this environment before anything else
        return body  # type: ignore[no-any-return]

    async def _expect(self, flag: str, expected_version: str) -> Mapping[str, Any]:
        body = await self._flag(flag)
        found = str(body.get("_version"))
        if found != expected_version:
            raise FlagConflict(f"LaunchDarkly: flag {flag!r} changed since it was read (version {expected_version} → {found}); read it again")
        return body

    async def _patch(self, flag: str, instructions: list[dict[str, Any]], comment: str) -> None:
        payload = {"environmentKey": self.environment, "comment": comment, "instructions": instructions}
        await self._request("PATCH", f"/api/v2/flags/{self.project}/{flag}", json=payload, content_type=SEMANTIC_PATCH)

    async def _request(self, method: str, path: str, *, json: Any = None, params: Any = None, content_type: str = "application/json") -> Any:
        import httpx

        try:
            response = await self._client.request(method, path, json=json, params=params, headers={"Content-Type": content_type})
        except httpx.HTTPError as error:
            raise ProviderError(f"LaunchDarkly: {method} {self.url}{path} failed: {error.__class__.__name__}: {error}") from None
        if response.status_code == 404:
            raise ProviderError(f"LaunchDarkly: {method} {path} answered 404: no such project or flag; create the flag first")
        if response.status_code in (401, 403):
            raise ProviderError(f"LaunchDarkly: {method} {path} answered {response.status_code}: the API token may not write flags in {self.project!r}")
        if response.status_code == 409:
            raise FlagConflict(f"LaunchDarkly: {method} {path} answered 409: the flag changed meanwhile; read it again")
        if response.status_code >= 400:
            raise ProviderError(f"LaunchDarkly: {method} {path} answered {response.status_code}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"LaunchDarkly: {method} {path} answered something that is not JSON") from None


def _env(body: Mapping[str, Any], environment: str) -> Mapping[str, Any]:
    env = (body.get("environments") or {}).get(environment)
    if not isinstance(env, Mapping):
        raise ProviderError(f"LaunchDarkly: flag {body.get('key')!r} has no environment {environment!r}; fix [flags] environment")
    return env


def _variation_id(body: Mapping[str, Any], value: bool) -> str:
    for variation in body.get("variations") or []:
        if isinstance(variation, Mapping) and variation.get("value") is value:
            return str(variation["_id"])
    raise ProviderError(f"LaunchDarkly: flag {body.get('key')!r} is not a boolean flag (no {str(value).lower()} variation); shipdeck ramps boolean flags")


def _variation_index(body: Mapping[str, Any], value: bool) -> int:
    for index, variation in enumerate(body.get("variations") or []):
        if isinstance(variation, Mapping) and variation.get("value") is value:
            return index
    _variation_id(body, value)  # raises the sentence
    return -1


def _team_rule(env: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for rule in env.get("rules") or []:
        if isinstance(rule, Mapping) and rule.get("description") == TEAM_RULE:
            return rule
    return None


def _percent(body: Mapping[str, Any], env: Mapping[str, Any]) -> int:
    fallthrough = env.get("fallthrough") or {}
    on_index = _variation_index(body, True)
    rollout = fallthrough.get("rollout")
    if isinstance(rollout, Mapping):
        weight = sum(int(v.get("weight", 0)) for v in rollout.get("variations") or [] if v.get("variation") == on_index)
        return round(weight * 100 / WHOLE)
    return 100 if fallthrough.get("variation") == on_index else 0


def _fallthrough_serves_everyone(body: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
    return (env.get("fallthrough") or {}).get("variation") == _variation_index(body, True)


def _rollout(body: Mapping[str, Any], percent: int) -> dict[str, Any]:
    on_weight = percent * (WHOLE // 100)
    return {
        "kind": "updateFallthroughVariationOrRollout",
        "rolloutWeights": {_variation_id(body, True): on_weight, _variation_id(body, False): WHOLE - on_weight},
        "rolloutBucketBy": "key",
    }


def _state(flag: str, body: Mapping[str, Any], environment: str) -> FlagState:
    env = _env(body, environment)
    team = _team_rule(env)
    return FlagState(
        flag=flag,
        enabled=bool(env.get("on")),
        team=team is not None and team.get("variation") == _variation_index(body, True),
        percent=_percent(body, env),
        version=str(body.get("_version")),
    )


PROVIDERS = (
    flag_provider(
        "launchdarkly",
        "LaunchDarkly feature flags: the team → N % → 100 % ramp by semantic patch",
        LaunchDarklyFlags,
        url=Setting("url", default="https://app.launchdarkly.com", help="the API base URL (tests point it at a loopback fake)"),
        token_env="LD_API_TOKEN",
        token_help="the environment variable holding an API access token with a writer role",
        example={"provider": "launchdarkly", "token_env": "LD_API_TOKEN", "project": "default"},
    ),
)
