"""A loopback "product" with the reference process's five critical paths, for the smoke tests.

A real HTTP server on 127.0.0.1 in a thread (the pattern of core/sandbox/datadog_fake.py):

- login: `POST /api/login` → a bearer token; `GET /api/me` → the user (email, plan)
- apply to a job: `GET /api/jobs`, `POST /api/jobs/{id}/applications`, `GET /api/applications/{id}`
  (an application also sends its confirmation email to the outbox)
- tracker loads: `GET /tracker` → an HTML page
- email sent: `GET /api/test/outbox?to=…` (what a command check looks at)
- upgrade to Pro in Stripe test mode: `POST /api/billing/checkout` → a `cs_test_…` session

Test controls: `break_route(route, when=…)` makes a route answer 500 while `when()` is true
(e.g. "production runs the new tag": broken after the deploy, healthy after the rollback);
`delay(route, seconds)`; `override(method, path, status, body)` answers anything, hostile
bytes included.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlsplit

from fakes.loopback import LoopbackServer

ROUTES = ("login", "me", "jobs", "apply", "application", "tracker", "checkout", "outbox")


@dataclass
class _Override:
    status: int
    body: bytes
    content_type: str


class ProductServer(LoopbackServer):
    thread_name = "fake-product"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    """The product on loopback. `start()` returns its base URL; use as a context manager."""

    def __init__(self, users: Mapping[str, str] | None = None) -> None:
        self.users = dict(users or {"smoke@example.com": "correct horse battery"})
        self.plans = {email: "free" for email in self.users}
        self.tokens: dict[str, str] = {}
        self.applications: dict[int, dict[str, Any]] = {}
        self.outbox: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self._broken: dict[str, Callable[[], bool]] = {}
        self._delays: dict[str, float] = {}
        self._overrides: dict[tuple[str, str], _Override] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------


    # -- test controls ---------------------------------------------------------------------

    def break_route(self, route: str, when: Callable[[], bool] = lambda: True) -> None:
        """`route` (one of ROUTES) answers 500 whenever `when()` is true."""
        assert route in ROUTES, route
        self._broken[route] = when

    def delay(self, route: str, seconds: float) -> None:
        assert route in ROUTES, route
        self._delays[route] = seconds

    def override(self, method: str, path: str, status: int, body: bytes | str, content_type: str = "application/json") -> None:
        """Answer `method path` with exactly this, whatever the route would say."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._overrides[(method, path)] = _Override(status, data, content_type)

    # -- the product -----------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: Any) -> tuple[int, Any, str]:
        """(status, payload, content type) for one request; payload is JSON-able or text."""
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query)
        route, params = _route(method, path)
        with self._lock:
            self.requests.append(f"{method} {path}")
        if route is None:
            return 404, {"error": "not found"}, "application/json"
        if route in self._delays:
            time.sleep(self._delays[route])
        broken = self._broken.get(route)
        if broken is not None and broken():
            return 500, {"error": "Internal Server Error", "route": route}, "application/json"
        user = self._user(headers)
        if route == "login":
            email, password = (body or {}).get("email"), (body or {}).get("password")
            if not isinstance(email, str) or self.users.get(email) != password:
                return 401, {"error": "invalid email or password"}, "application/json"
            token = "tok_" + secrets.token_hex(16)
            with self._lock:
                self.tokens[token] = email
            return 200, {"token": token, "user": {"email": email}}, "application/json"
        if route == "jobs":
            return 200, {"jobs": [{"id": 7, "title": "Staff Engineer"}, {"id": 8, "title": "Designer"}]}, "application/json"
        if route == "outbox":
            wanted = query.get("to", [""])[0]
            return 200, {"emails": [m for m in self.outbox if not wanted or m["to"] == wanted]}, "application/json"
        if user is None:
            return 401, {"error": "sign in first"}, "application/json"
        if route == "me":
            return 200, {"user": {"email": user, "plan": self.plans[user]}}, "application/json"
        if route == "apply":
            with self._lock:
                number = 100 + len(self.applications)
                self.applications[number] = {"id": number, "job_id": int(params[0]), "status": "submitted", "email": user}
                self.outbox.append({"to": user, "subject": "Your application was received", "at": time.time()})
            return 201, {"application": {"id": number, "job_id": int(params[0]), "status": "submitted"}}, "application/json"
        if route == "application":
            application = self.applications.get(int(params[0]))
            if application is None or application["email"] != user:
                return 404, {"error": "no such application"}, "application/json"
            return 200, {"application": {k: v for k, v in application.items() if k != "email"}}, "application/json"
        if route == "tracker":
            count = sum(1 for a in self.applications.values() if a["email"] == user)
            return 200, f"<html><body><h1>Application tracker</h1><p>{count} applications</p></body></html>", "text/html"
        if route == "checkout":
            if (body or {}).get("plan") != "pro" or (body or {}).get("payment_method") != "pm_card_visa":
                return 400, {"error": "Stripe test mode takes plan = pro with payment_method = pm_card_visa"}, "application/json"
            with self._lock:
                self.plans[user] = "pro"
            session = {"id": "cs_test_" + secrets.token_hex(8), "livemode": False, "status": "complete"}
            return 200, {"session": session, "plan": "pro"}, "application/json"
        return 404, {"error": "not found"}, "application/json"

    def _user(self, headers: Mapping[str, str]) -> str | None:
        authorization = headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            return self.tokens.get(token)


_PATTERNS = (
    ("POST", r"/api/login", "login"),
    ("GET", r"/api/me", "me"),
    ("GET", r"/api/jobs", "jobs"),
    ("POST", r"/api/jobs/(\d+)/applications", "apply"),
    ("GET", r"/api/applications/(\d+)", "application"),
    ("GET", r"/tracker", "tracker"),
    ("POST", r"/api/billing/checkout", "checkout"),
    ("GET", r"/api/test/outbox", "outbox"),
)


def _route(method: str, path: str) -> tuple[str | None, tuple[str, ...]]:
    for route_method, pattern, name in _PATTERNS:
        match = re.fullmatch(pattern, path)
        if match and method == route_method:
            return name, match.groups()
    return None, ()


def _handler_for(product: ProductServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no access log in test output
            return

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            override = product._overrides.get((method, urlsplit(self.path).path))
            if override is not None:
                self._send(override.status, override.body, override.content_type)
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._send(400, b'{"error": "invalid JSON"}', "application/json")
                return
            status, payload, content_type = product.handle(method, self.path, dict(self.headers.items()), body)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self._send(status, data, content_type)

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
