"""A loopback fake of LaunchDarkly's flag API, built from the documented request shapes.

`GET /api/v2/flags/{project}/{flag}` answers a boolean flag with `_version`, `variations` and
`environments[env]` (`on`, `rules`, `fallthrough`); `PATCH` of the same path accepts only a
semantic patch (`Content-Type: application/json; domain-model=launchdarkly.semanticpatch`)
with the instructions the ramp uses: turnFlagOn, turnFlagOff, addRule, removeRule and
updateFallthroughVariationOrRollout (variationId or rolloutWeights in thousandths of a percent
that add up to 100000). Each applied patch bumps `_version` and is recorded in `changes`, which
is how tests count what reached the server.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.loopback import LoopbackServer

SEMANTIC = "domain-model=launchdarkly.semanticpatch"


class FakeLaunchDarkly(LoopbackServer):
    thread_name = "fake-launchdarkly"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def __init__(self, token: str, project: str = "default", environments: tuple[str, ...] = ("production",)) -> None:
        self.token = token
        self.project = project
        self.environments = environments
        self.flags: dict[str, dict[str, Any]] = {}
        self.changes: list[tuple[str, list[str]]] = []  # (flag, instruction kinds) per applied PATCH
        self.fail_next_patch_after_apply = 0  # apply, then answer 502: a write whose answer is lost
        self._lock = threading.Lock()

    def add_flag(self, key: str) -> None:
        on_id, off_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.flags[key] = {
            "key": key,
            "kind": "boolean",
            "_version": 1,
            "variations": [{"_id": on_id, "value": True}, {"_id": off_id, "value": False}],
            "environments": {
                env: {"on": False, "rules": [], "fallthrough": {"variation": 0}, "offVariation": 1, "_environmentName": env}
                for env in self.environments
            },
        }

    def environment(self, flag: str, env: str = "production") -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.flags[flag]["environments"][env]))  # type: ignore[no-any-return]


    # -- semantics -------------------------------------------------------------------------

    def _apply(self, flag: dict[str, Any], body: Any) -> str | None:
        """Apply a semantic patch; returns an error sentence (400) or None."""
        if not isinstance(body, dict) or not isinstance(body.get("instructions"), list) or not body["instructions"]:
            return "instructions must be a non-empty list"
        env_key = body.get("environmentKey")
        if env_key not in flag["environments"]:
            return f"environmentKey {env_key!r} is not an environment of this flag"
        env = json.loads(json.dumps(flag["environments"][env_key]))  # all or nothing: work on a copy
        ids = [v["_id"] for v in flag["variations"]]
        for instruction in body["instructions"]:
            kind = instruction.get("kind")
            if kind == "turnFlagOn":
                env["on"] = True
            elif kind == "turnFlagOff":
                env["on"] = False
            elif kind == "addRule":
                clauses = instruction.get("clauses")
                if not isinstance(clauses, list) or not clauses or instruction.get("variationId") not in ids:
                    return "addRule needs clauses and a variationId of this flag"
                for clause in clauses:
                    if not {"attribute", "op", "values"} <= set(clause):
                        return "a clause needs attribute, op and values"
                env["rules"].append(
                    {"_id": str(uuid.uuid4()), "clauses": clauses, "variation": ids.index(instruction["variationId"]), "description": instruction.get("description", "")}
                )
            elif kind == "removeRule":
                before = len(env["rules"])
                env["rules"] = [r for r in env["rules"] if r["_id"] != instruction.get("ruleId")]
                if len(env["rules"]) == before:
                    return "removeRule: no rule with that ruleId"
            elif kind == "updateFallthroughVariationOrRollout":
                if "variationId" in instruction:
                    if instruction["variationId"] not in ids:
                        return "unknown variationId"
                    env["fallthrough"] = {"variation": ids.index(instruction["variationId"])}
                else:
                    weights = instruction.get("rolloutWeights")
                    if not isinstance(weights, dict) or set(weights) - set(ids) or sum(weights.values()) != 100_000:
                        return "rolloutWeights must map variation ids to weights adding up to 100000"
                    env["fallthrough"] = {
                        "rollout": {"variations": [{"variation": ids.index(i), "weight": w} for i, w in weights.items()], "bucketBy": instruction.get("rolloutBucketBy", "key")}
                    }
            else:
                return f"unsupported instruction kind {kind!r}"
        flag["environments"][env_key] = env
        flag["_version"] += 1
        self.changes.append((flag["key"], [i["kind"] for i in body["instructions"]]))
        return None


def _handler_for(fake: FakeLaunchDarkly) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return

        def do_GET(self) -> None:
            self._route("GET")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def _route(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if self.headers.get("Authorization") != fake.token:
                self._send(401, {"code": "unauthorized", "message": "Invalid account ID header"})
                return
            if len(parts) != 5 or parts[:3] != ["api", "v2", "flags"] or parts[3] != fake.project:
                self._send(404, {"code": "not_found", "message": "Unknown resource"})
                return
            with fake._lock:
                flag = fake.flags.get(parts[4])
                if flag is None:
                    self._send(404, {"code": "not_found", "message": "Unknown flag"})
                    return
                if method == "GET":
                    self._send(200, flag)
                    return
                if SEMANTIC not in (self.headers.get("Content-Type") or ""):
                    self._send(400, {"code": "invalid_request", "message": "expected a semantic patch content type"})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"code": "invalid_request", "message": "invalid JSON"})
                    return
                problem = fake._apply(flag, body)
                if problem is not None:
                    self._send(400, {"code": "invalid_request", "message": problem})
                    return
                if fake.fail_next_patch_after_apply > 0:
                    fake.fail_next_patch_after_apply -= 1
                    self._send(502, {"code": "bad_gateway", "message": "upstream went away"})
                    return
                self._send(200, flag)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
