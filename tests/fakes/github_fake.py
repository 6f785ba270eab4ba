"""A stateful loopback fake of the GitHub REST endpoints shipdeck uses: a real HTTP server.

The real httpx client points at `fake.start()` (http://127.0.0.1:PORT). State lives in the
fake and changes over time the way GitHub's does:

- workflow dispatch (`POST …/actions/workflows/{wf}/dispatches`) creates a run whose
  `name`/`display_title` is `run_name` formatted with the inputs (the workflow's `run-name:`);
  it answers 200 with `workflow_run_id` when asked `return_run_details`, or 204. Modes:
  `legacy=True` answers 422 to `return_run_details` (older GitHub Enterprise);
  `hang_after_dispatch=s` creates the run, then answers only after `s` seconds (a client with
  a shorter timeout sees a timeout after the run exists). `dispatches` counts dispatches.
- a run's jobs and steps progress with wall time (`step_seconds` each); `fail_step[version]`
  names a step that fails for that version; `POST …/runs/{id}/cancel` cancels it.
- deployments and their statuses, releases (by tag), check runs and combined statuses per
  commit, pull requests.
- `rate_limit(times, status=403|429, retry_after=None, reset_in=…)` answers the next `times`
  requests with a rate-limit refusal carrying GitHub's headers.
- every request needs `Authorization: Bearer <token>`; `authorizations` records what each
  request carried (a redirect test checks another host never saw the token);
  `redirect[path] = url` answers that path with a 307.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

DEFAULT_JOBS = {"deploy": ["Set up job", "Pull image", "Blue-green switch", "Health check"]}


@dataclass
class Run:
    id: int
    name: str
    inputs: dict[str, str]
    ref: str
    workflow: str
    created: float
    fail_step: str | None
    cancelled_at: float | None = None


@dataclass
class FakeGitHub:
    token: str = "ghs_faketoken123"
    repository: str = "acme/shop"
    run_name: str = "deploy {version} {key}"
    jobs: dict[str, list[str]] = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_JOBS.items()})
    step_seconds: float = 0.05
    legacy: bool = False
    hang_after_dispatch: float = 0.0
    fail_step: dict[str, str] = field(default_factory=dict)  # version -> failing step name
    green_by_default: bool = False  # a commit without scripted check runs has one green "tests" run

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.dispatches = 0
        self.dispatch_bodies: list[dict[str, Any]] = []
        self.runs: list[Run] = []
        self.deployments: list[dict[str, Any]] = []
        self.statuses: dict[int, list[dict[str, Any]]] = {}
        self.releases: list[dict[str, Any]] = []
        self.check_runs: dict[str, list[dict[str, Any]]] = {}
        self.commit_statuses: dict[str, list[dict[str, Any]]] = {}
        self.pulls: list[dict[str, Any]] = []
        self.redirect: dict[str, str] = {}
        self.errors: dict[str, tuple[int, str]] = {}  # path -> (status, message) answered instead
        self.answers: dict[str, Any] = {}  # path -> a 200 body answered instead (malformed answers)
        self.authorizations: list[tuple[str, str | None]] = []
        self.requests: Counter[str] = Counter()
        self._limits: list[dict[str, Any]] = []
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1") -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PATCH(self) -> None:
                fake._handle(self, "PATCH")

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.url = f"http://{host}:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- scripting ---------------------------------------------------------------------------

    def rate_limit(self, times: int, *, status: int = 403, retry_after: float | None = None, reset_in: float = 1.0) -> None:
        with self.lock:
            self._limits.extend({"status": status, "retry_after": retry_after, "reset_in": reset_in} for _ in range(times))

    def add_pull(self, number: int, title: str, base: str = "develop", state: str = "open") -> None:
        with self.lock:
            self.pulls.append({"number": number, "title": title, "state": state, "base": {"ref": base}, "html_url": f"https://github.test/{self.repository}/pull/{number}"})

    def record_deployment(self, ref: str, environment: str, state: str, sha: str = "") -> None:
        with self.lock:
            deployment = self._new_deployment({"ref": ref, "environment": environment, "sha": sha or ref})
            self._add_status(deployment["id"], {"state": state})

    # -- state -------------------------------------------------------------------------------

    def run_state(self, run: Run, now: float | None = None) -> tuple[str, str | None, list[dict[str, Any]]]:
        """(status, conclusion, jobs) of a run at `now`: each step takes step_seconds, in order."""
        now = time.time() if now is None else now
        elapsed = (min(now, run.cancelled_at) if run.cancelled_at else now) - run.created
        done = int(elapsed / self.step_seconds) if self.step_seconds > 0 else 10**6
        jobs, index, failed = [], 0, False
        for job_id, (job_name, steps) in enumerate(self.jobs.items(), start=1):
            job_steps = []
            for number, step in enumerate(steps, start=1):
                if failed:
                    status, conclusion = "completed", "skipped"
                elif index < done:
                    conclusion = "failure" if step == run.fail_step else "success"
                    status, failed = "completed", step == run.fail_step
                elif index == done and not run.cancelled_at:
                    status, conclusion = "in_progress", None
                else:
                    status, conclusion = ("completed", "cancelled") if run.cancelled_at else ("queued", None)
                job_steps.append({"name": step, "number": number, "status": status, "conclusion": conclusion})
                index += 1
            finished = all(s["status"] == "completed" for s in job_steps)
            bad = next((s["conclusion"] for s in job_steps if s["conclusion"] in ("failure", "cancelled")), None)
            jobs.append(
                {
                    "id": run.id * 100 + job_id,
                    "name": job_name,
                    "status": "completed" if finished else ("in_progress" if index - len(steps) <= done else "queued"),
                    "conclusion": (bad or "success") if finished else None,
                    "steps": job_steps,
                }
            )
        if all(j["status"] == "completed" for j in jobs):
            bad = next((j["conclusion"] for j in jobs if j["conclusion"] != "success"), None)
            return "completed", bad or "success", jobs
        return ("in_progress" if done > 0 else "queued"), None, jobs

    def _run_json(self, run: Run) -> dict[str, Any]:
        status, conclusion, _jobs = self.run_state(run)
        return {
            "id": run.id,
            "name": run.name,
            "display_title": run.name,
            "status": status,
            "conclusion": conclusion,
            "event": "workflow_dispatch",
            "head_branch": run.ref,
            "html_url": f"https://github.test/{self.repository}/actions/runs/{run.id}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.created)),
        }

    def _new_deployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = {
            "id": len(self.deployments) + 1,
            "ref": body["ref"],
            "sha": body.get("sha") or f"sha-of-{body['ref']}",
            "environment": body.get("environment", "production"),
            "payload": body.get("payload") or {},
            "description": body.get("description"),
            "task": body.get("task", "deploy"),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.deployments.append(deployment)
        self.statuses[deployment["id"]] = []
        return deployment

    def _add_status(self, deployment_id: int, body: dict[str, Any]) -> dict[str, Any]:
        status = {"id": sum(len(s) for s in self.statuses.values()) + 1, "state": body["state"], "log_url": body.get("log_url", ""), "description": body.get("description", "")}
        self.statuses[deployment_id].append(status)
        return status

    # -- HTTP --------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(request.headers.get("content-length") or 0)
        raw = request.rfile.read(length) if length else b""
        authorization = request.headers.get("authorization")
        with self.lock:
            self.authorizations.append((path, authorization))
            self.requests[f"{method} {path}"] += 1
            limit = self._limits.pop(0) if self._limits else None
            target = self.redirect.get(path)
            error = self.errors.get(path)
            canned = self.answers.get(path)
        if authorization != f"Bearer {self.token}":
            return _send(request, 401, {"message": "Bad credentials"})
        if limit is not None:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time() + limit["reset_in"]))}
            if limit["retry_after"] is not None:
                headers = {"retry-after": str(limit["retry_after"])}
            return _send(request, limit["status"], {"message": "API rate limit exceeded"}, headers)
        if target is not None:
            return _send(request, 307, None, {"location": target})
        if error is not None:
            return _send(request, error[0], {"message": error[1]})
        if canned is not None:
            return _send(request, 200, canned)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _send(request, 400, {"message": "Problems parsing JSON"})
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix):
            return _send(request, 404, {"message": "Not Found"})
        status, answer, hang = self._route(method, path[len(prefix):], query, body)
        if hang:
            time.sleep(hang)
        _send(request, status, answer)

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any, float]:
        with self.lock:
            if path == "" and method == "GET":
                return 200, {"full_name": self.repository}, 0
            if m := re.fullmatch(r"/actions/workflows/([^/]+)", path):
                return 200, {"id": 1, "name": "Deploy", "path": f".github/workflows/{m[1]}", "state": "active"}, 0
            if (m := re.fullmatch(r"/actions/workflows/([^/]+)/dispatches", path)) and method == "POST":
                return self._dispatch(m[1], body)
            if re.fullmatch(r"/actions/(workflows/[^/]+/)?runs", path):
                runs = [self._run_json(r) for r in reversed(self.runs)]
                return 200, {"total_count": len(runs), "workflow_runs": runs[: int(query.get("per_page", 30))]}, 0
            if m := re.fullmatch(r"/actions/runs/(\d+)(/jobs|/cancel)?", path):
                run = next((r for r in self.runs if r.id == int(m[1])), None)
                if run is None:
                    return 404, {"message": "Not Found"}, 0
                if m[2] == "/cancel":
                    run.cancelled_at = run.cancelled_at or time.time()
                    return 202, {}, 0
                if m[2] == "/jobs":
                    jobs = self.run_state(run)[2]
                    return 200, {"total_count": len(jobs), "jobs": jobs}, 0
                return 200, self._run_json(run), 0
            if path == "/deployments":
                if method == "POST":
                    return 201, self._new_deployment(body), 0
                found = [d for d in reversed(self.deployments) if all(d.get(k) == query[k] for k in ("environment", "ref") if k in query)]
                return 200, found, 0
            if m := re.fullmatch(r"/deployments/(\d+)/statuses", path):
                if int(m[1]) not in self.statuses:
                    return 404, {"message": "Not Found"}, 0
                if method == "POST":
                    return 201, self._add_status(int(m[1]), body), 0
                return 200, list(reversed(self.statuses[int(m[1])])), 0
            if m := re.fullmatch(r"/commits/([^/]+)/check-runs", path):
                default = [{"name": "tests", "status": "completed", "conclusion": "success"}] if self.green_by_default else []
                runs = self.check_runs.get(m[1], default)
                return 200, {"total_count": len(runs), "check_runs": runs}, 0
            if m := re.fullmatch(r"/commits/([^/]+)/status", path):
                statuses = self.commit_statuses.get(m[1], [])
                states = {s["state"] for s in statuses}
                state = "failure" if states & {"failure", "error"} else "pending" if "pending" in states or not statuses else "success"
                return 200, {"state": state, "statuses": statuses, "total_count": len(statuses), "sha": m[1]}, 0
            if path == "/pulls":
                found = [p for p in self.pulls if p["state"] == query.get("state", "open") and ("base" not in query or p["base"]["ref"] == query["base"])]
                return 200, found, 0
            if m := re.fullmatch(r"/pulls/(\d+)", path):
                pull = next((p for p in self.pulls if p["number"] == int(m[1])), None)
                return (200, pull, 0) if pull else (404, {"message": "Not Found"}, 0)
            return self._route_releases(method, path, body)

    def _route_releases(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        if m := re.fullmatch(r"/releases/tags/(.+)", path):
            release = next((r for r in self.releases if r["tag_name"] == m[1]), None)
            return (200, release, 0) if release else (404, {"message": "Not Found"}, 0)
        if path == "/releases" and method == "POST":
            if any(r["tag_name"] == body.get("tag_name") for r in self.releases):
                return 422, {"message": "Validation Failed", "errors": [{"code": "already_exists", "field": "tag_name"}]}, 0
            release = {"id": len(self.releases) + 1, "tag_name": body["tag_name"], "name": body.get("name"), "body": body.get("body"), "html_url": f"https://github.test/{self.repository}/releases/tag/{body['tag_name']}"}
            self.releases.append(release)
            return 201, release, 0
        if (m := re.fullmatch(r"/releases/(\d+)", path)) and method == "PATCH":
            release = next((r for r in self.releases if r["id"] == int(m[1])), None)
            if release is None:
                return 404, {"message": "Not Found"}, 0
            release.update({k: v for k, v in body.items() if k in ("name", "body")})
            return 200, release, 0
        return 404, {"message": "Not Found"}, 0

    def _dispatch(self, workflow: str, body: dict[str, Any]) -> tuple[int, Any, float]:
        if self.legacy and "return_run_details" in body:
            return 422, {"message": 'Invalid request.\n\n"return_run_details" is not a permitted key.'}, 0
        inputs = {str(k): str(v) for k, v in (body.get("inputs") or {}).items()}
        self.dispatches += 1
        self.dispatch_bodies.append(body)
        run = Run(
            id=1000 + len(self.runs) + 1,
            name=self.run_name.format_map(_Missing(inputs)),
            inputs=inputs,
            ref=str(body.get("ref", "")),
            workflow=workflow,
            created=time.time(),
            fail_step=self.fail_step.get(inputs.get("version", "")),
        )
        self.runs.append(run)
        if body.get("return_run_details"):
            return 200, {"workflow_run_id": run.id, "html_url": self._run_json(run)["html_url"]}, self.hang_after_dispatch
        return 204, None, self.hang_after_dispatch


@contextmanager
def running_fake(**options: Any) -> Iterator[FakeGitHub]:
    """A started fake (its `url` set), stopped on exit."""
    fake = FakeGitHub(**options)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


class _Missing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _send(request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = b"" if body is None or status == 204 else json.dumps(body).encode()
    try:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("content-type", "application/json")
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client timed out and left: like GitHub, the action already happened
