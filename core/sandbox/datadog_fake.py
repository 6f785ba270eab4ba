"""A loopback fake of the Datadog API endpoints shipdeck uses, as a real HTTP server.

The real `datadog-api-client` points at it with `Configuration(host=fake.start())`, so tests
and the demo run the production adapter end to end. It answers:

- `POST /api/v2/query/timeseries` (needs DD-API-KEY and DD-APPLICATION-KEY): every named
  query evaluated from a `MetricModel` and a per-metric scenario against a *production view*
  (`production(at) -> tag`): a series goes bad (regression), silent (blind) or nonsensical
  (garbage) in the buckets where production runs a tag other than `initial_tag`. Values are
  deterministic per (query, bucket), so a repeated query for a window gives the same numbers.
- `POST /api/v1/events` and `POST /api/v2/dora/deployment` (DD-API-KEY): recorded; DORA
  requests are kept whole so tests can count requests and distinct `id`s separately.
- `GET /api/v1/validate` (DD-API-KEY), for `shipdeck doctor`.

Every answer carries `X-RateLimit-Limit/Period/Remaining/Reset` for a fixed-window budget per
endpoint; when it runs out the fake answers 429 until the window resets, like Datadog. Faults
are injected at runtime with `inject()`: "429", "500", "slow", "empty" (no series) and
"malformed" (a body that is not JSON).

    fake = FakeDatadog(api_key="k", app_key="a", production=timeline("v1.3.0", [(t, "v1.4.0")]),
                       initial_tag="v1.3.0", scenarios={"trace.http.request": "regression"})
    url = fake.start()
    ...
    fake.stop()
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

from .datadog_fake_series import (
    DEFAULT_METRICS,
    SERIES_SCENARIOS,
    MetricModel,
    ProductionView,
    QueryError,
    evaluate,
    metric_name,
    names_in,
    parse_formula,
    query_value,
    timeline,
)

QUERY_PATH = "/api/v2/query/timeseries"
EVENTS_PATH = "/api/v1/events"
DORA_PATH = "/api/v2/dora/deployment"
VALIDATE_PATH = "/api/v1/validate"

FAULTS = ("429", "500", "slow", "empty", "malformed")
# Server-wide scenarios for the demo: the per-series ones plus a tight rate limit.
SCENARIOS = (*SERIES_SCENARIOS, "rate-limited")
MAX_POINTS = 1500  # like Datadog, a larger interval is used when a window would need more


@dataclass
class _Fault:
    kind: str
    remaining: int
    path: str | None
    delay: float
    reset: int


@dataclass
class _Budget:
    limit: int
    period: int
    window_started: float
    used: int = 0


class FakeDatadog:
    """The fake; `start()` serves it on 127.0.0.1 in a daemon thread and returns the base URL."""

    def __init__(
        self,
        *,
        api_key: str,
        app_key: str,
        production: ProductionView | None = None,
        initial_tag: str = "",
        scenario: str = "healthy",
        scenarios: Mapping[str, str] | None = None,
        metrics: Mapping[str, MetricModel] | None = None,
        rate_limit: int = 1000,
        rate_period: int = 3600,
        behaviour: Callable[[str], str] | None = None,
    ) -> None:
        """Args:
        production: which tag production ran at a time (seconds); default: always `initial_tag`.
        scenario: what every metric does once production runs another tag (see SERIES_SCENARIOS);
            `scenarios` overrides it per metric name (`trace.http.request`).
        rate_limit, rate_period: the query budget, requests per fixed window of seconds.
        behaviour: how production behaves running a tag (a sandbox scenario), when it differs
            per release (the lifetime tests set it per tag); replaces `scenario` for every
            metric. Scenarios that are not about metrics (smoke-failure, …) read as healthy.
        """
        for named in (scenario, *(scenarios or {}).values()):
            if named not in SERIES_SCENARIOS:
                raise ValueError(f"unknown series scenario {named!r}; choose one of {', '.join(SERIES_SCENARIOS)}")
        self._api_key = api_key
        self._app_key = app_key
        self.production: ProductionView = production or timeline(initial_tag)
        self.initial_tag = initial_tag
        self.scenario = scenario
        self.scenarios = dict(scenarios or {})
        self.behaviour = behaviour
        self.metrics = dict(DEFAULT_METRICS if metrics is None else metrics)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: list[_Fault] = []
        now = time.monotonic()
        self._budgets = {
            QUERY_PATH: _Budget(rate_limit, rate_period, now),
            EVENTS_PATH: _Budget(500, 60, now),
            DORA_PATH: _Budget(500, 60, now),
            VALIDATE_PATH: _Budget(60, 60, now),
        }
        self.requests: Counter[str] = Counter()  # "POST /api/v2/query/timeseries" -> count
        self.query_bodies: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.dora_requests: list[dict[str, Any]] = []
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_scenario(cls, name: str, *, api_key: str, app_key: str, production: ProductionView, initial_tag: str) -> FakeDatadog:
        """The demo's fake: one of SCENARIOS for every series ("rate-limited": healthy, tight budget)."""
        if name not in SCENARIOS:
            raise ValueError(f"unknown Datadog scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
        if name == "rate-limited":
            return cls(api_key=api_key, app_key=app_key, production=production, initial_tag=initial_tag, rate_limit=12, rate_period=30)
        # A budget that the demo's fast polls never stretch against (the real one is per account).
        return cls(api_key=api_key, app_key=app_key, production=production, initial_tag=initial_tag, scenario=name, rate_limit=1_000_000)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on an ephemeral loopback port; returns `http://127.0.0.1:PORT`."""
        if self._server is None:
            self._stopping.clear()
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, name="fake-datadog", daemon=True)
            self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Datadog is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop serving; slow answers in flight are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections, self._connections = set(self._connections), set()
        for connection in connections:  # idle keep-alive connections would hold their threads
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeDatadog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, *, path: str | None = None, delay: float = 2.0, reset: int = 1) -> None:
        """The next `times` requests (to `path`, or any) fail as `kind`, one of FAULTS.

        "429" carries `X-RateLimit-Reset: reset`; "slow" waits `delay` seconds, then answers.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.append(_Fault(kind, times, path, delay, reset))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_rate_limit(self, limit: int, period: int, path: str = QUERY_PATH) -> None:
        """A new budget for `path`, starting a fresh window now."""
        with self._lock:
            self._budgets[path] = _Budget(limit, period, time.monotonic())

    @property
    def dora_ids(self) -> set[str]:
        """Distinct deployment ids received (a retried POST with the same id counts once)."""
        with self._lock:
            return {str(body.get("data", {}).get("attributes", {}).get("id")) for body in self.dora_requests}

    # -- request handling (called from the server's threads) ------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and (fault.path is None or fault.path == path):
                    fault.remaining -= 1
                    return fault
        return None

    def _spend(self, path: str) -> tuple[bool, dict[str, str]]:
        """Charge one request to `path`'s budget: (allowed, rate-limit headers)."""
        with self._lock:
            budget = self._budgets[path]
            now = time.monotonic()
            if now - budget.window_started >= budget.period:
                elapsed_windows = int((now - budget.window_started) // budget.period)
                budget.window_started += elapsed_windows * budget.period
                budget.used = 0
            allowed = budget.used < budget.limit
            if allowed:
                budget.used += 1
            reset = max(1, math.ceil(budget.window_started + budget.period - now))
            return allowed, _rate_headers(budget.limit, budget.period, budget.limit - budget.used, reset)

    def _wait(self, seconds: float) -> bool:
        """Sleep for a slow answer; False when the fake stopped meanwhile."""
        return not self._stopping.wait(seconds)

    def _answer_query(self, body: Any) -> tuple[int, dict[str, Any]]:
        try:
            attributes = body["data"]["attributes"]
            start_ms, end_ms = int(attributes["from"]), int(attributes["to"])
            queries = {str(q["name"]): str(q["query"]) for q in attributes["queries"]}
            formulas = [str(f["formula"]) for f in attributes.get("formulas") or []] or list(queries)
            trees = [parse_formula(text) for text in formulas]
            for text, tree in zip(formulas, trees):
                unknown = names_in(tree) - set(queries)
                if unknown:
                    raise QueryError(f"Formula {text!r} refers to unknown queries: {', '.join(sorted(unknown))}")
            models = {name: (self.metrics.get(metric_name(text)), self._scenario_of(metric_name(text))) for name, text in queries.items()}
        except QueryError as error:
            return 400, {"errors": [str(error)]}
        except (KeyError, TypeError, ValueError) as error:
            return 400, {"errors": [f"invalid request body: {type(error).__name__} {error}"]}
        if end_ms <= start_ms:
            return 400, {"errors": ["'to' must be after 'from'"]}
        interval_ms = int(attributes.get("interval") or 0) or max(1000, (end_ms - start_ms) // 300)
        interval_ms = max(interval_ms, math.ceil((end_ms - start_ms) / MAX_POINTS))
        first = -(-start_ms // interval_ms) * interval_ms
        times = list(range(first, end_ms, interval_ms))
        tags = {at: self.production(at / 1000.0) for at in times}
        changed = {at: tag != self.initial_tag for at, tag in tags.items()}
        behaving = self._behaviours(set(tags.values()))
        columns: list[list[float | None]] = []
        for at in times:
            inputs = {
                name: query_value(queries[name], model, behaving.get(tags[at], scenario), changed[at], at, interval_ms)
                for name, (model, scenario) in models.items()
            }
            columns.append([evaluate(tree, inputs) for tree in trees])
        series, values = [], []
        for index in range(len(trees)):
            row = [None if (value := column[index]) is None else round(value, 6) for column in columns]
            if any(value is not None for value in row):  # Datadog leaves out a formula with no data
                series.append({"group_tags": [], "query_index": index, "unit": None})
                values.append(row)
        return 200, {"data": {"type": "timeseries_response", "attributes": {"series": series, "times": times if series else [], "values": values}}}

    def _behaviours(self, tags: set[str]) -> dict[str, str]:
        """The series scenario of each tag, when production's behaviour is set per tag."""
        if self.behaviour is None:
            return {}
        chosen = {tag: self.behaviour(tag) for tag in tags}
        return {tag: (name if name in SERIES_SCENARIOS else "healthy") for tag, name in chosen.items()}

    def _scenario_of(self, metric: str) -> str:
        return self.scenarios.get(metric, self.scenario)

    def _record_event(self, body: Any) -> dict[str, Any]:
        with self._lock:
            self.events.append(body)
            number = len(self.events)
        return {
            "status": "ok",
            "event": {
                "id": number,
                "id_str": str(number),
                "title": str(body.get("title", "")),
                "text": str(body.get("text", "")),
                "tags": [str(tag) for tag in body.get("tags", [])],
                "url": f"https://app.datadoghq.com/event/event?id={number}",
            },
        }

    def _record_dora(self, body: Any) -> dict[str, Any]:
        with self._lock:
            self.dora_requests.append(body)
        identifier = str(body.get("data", {}).get("attributes", {}).get("id") or f"generated-{len(self.dora_requests):016d}")
        return {"data": {"id": identifier, "type": "dora_deployment"}}


def _rate_headers(limit: int, period: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Period": str(period),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(reset),
        "X-RateLimit-Name": "shipdeck_fake",
    }


# Which keys each endpoint checks, as the real API does (validate and intake need no app key).
_AUTH = {QUERY_PATH: ("DD-API-KEY", "DD-APPLICATION-KEY"), EVENTS_PATH: ("DD-API-KEY",), DORA_PATH: ("DD-API-KEY",), VALIDATE_PATH: ("DD-API-KEY",)}
_ROUTES = {("POST", QUERY_PATH), ("POST", EVENTS_PATH), ("POST", DORA_PATH), ("GET", VALIDATE_PATH)}


def _handler_for(fake: FakeDatadog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real client expects
        # Headers and body go out in two writes; with Nagle on, keep-alive requests wait ~40 ms
        # for a delayed ACK, which the real API does not make anyone do.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            super().finish()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            return  # quiet: the test output is not the place for an access log

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake._lock:
                fake.requests[f"{method} {path}"] += 1
            if (method, path) not in _ROUTES:
                self._send(404, {"errors": ["Not found"]})
                return
            expected = {"DD-API-KEY": fake._api_key, "DD-APPLICATION-KEY": fake._app_key}
            if any(self.headers.get(header) != expected[header] for header in _AUTH[path]):
                self._send(403, {"errors": ["Forbidden"]})
                return
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._send(400, {"errors": ["Invalid JSON body"]})
                return
            # Intake endpoints record what arrived even when the answer is a fault: the server
            # saw it, which is exactly what makes a retried POST a duplicate.
            answer: dict[str, Any] | None = None
            if path == QUERY_PATH:
                with fake._lock:
                    fake.query_bodies.append(body)
            elif path == EVENTS_PATH:
                answer = fake._record_event(body)
            elif path == DORA_PATH:
                answer = fake._record_dora(body)
            fault = fake._take_fault(path)
            if fault is not None and fault.kind == "429":
                self._send(429, {"errors": ["Too many requests"]}, _rate_headers(fake._budgets[path].limit, fake._budgets[path].period, 0, fault.reset))
                return
            allowed, headers = fake._spend(path)
            if not allowed:
                self._send(429, {"errors": ["Too many requests"]}, headers)
                return
            if fault is not None and fault.kind == "500":
                self._send(500, {"errors": ["Internal Server Error"]}, headers)
                return
            if fault is not None and fault.kind == "slow" and not fake._wait(fault.delay):
                return
            if fault is not None and fault.kind == "malformed":
                self._send_raw(200, b'{"data": {"type": "timeseries_response", "attributes": {"series": [', headers)
                return
            if path == QUERY_PATH:
                status, answer = fake._answer_query(body)
                if fault is not None and fault.kind == "empty" and status == 200:
                    answer = {"data": {"type": "timeseries_response", "attributes": {"series": [], "times": [], "values": []}}}
                self._send(status, answer, headers)
            elif path == VALIDATE_PATH:
                self._send(200, {"valid": True}, headers)
            else:
                self._send(202, answer or {}, headers)

        def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(payload).encode(), headers)

        def _send_raw(self, status: int, data: bytes, headers: Mapping[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout we provoked); nothing to tell it

    return Handler
