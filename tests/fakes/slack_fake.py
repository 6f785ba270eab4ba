"""A loopback fake of the Slack endpoints shipdeck uses, as a real HTTP server (tests only).

slack_sdk's own clients talk to it: incoming webhooks at `POST /hooks/<name>` (the URL a test
plants in SLACK_WEBHOOK_*), and the Web API's `chat.postMessage` and `chat.update` under
`/api/` (the notifier's `api_url`), and `auth.test` for `shipdeck doctor`, which need `Authorization: Bearer <token>`. Messages are
kept per channel with their thread, edits replace a message's text, and faults are queued per
path with `fail()`: an HTTP status (429 with a Retry-After, 500) for the next `times` requests.

    with FakeSlack(token="xoxb-test") as slack:
        url = slack.webhook_url("engineering")
        ...
        slack.messages("C0ENGINEERING")
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from fakes.loopback import LoopbackServer


@dataclass
class Message:
    channel: str
    text: str
    ts: str
    thread_ts: str | None = None
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: int | None


class FakeSlack(LoopbackServer):
    thread_name = "fake-slack"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    """Slack's webhook and Web API endpoints on 127.0.0.1, recording what was posted."""

    def __init__(self, token: str = "xoxb-fake") -> None:
        self.token = token
        self.requests: list[tuple[str, str]] = []  # (path, body) of every request, faults included
        self.auth_headers: list[str] = []
        self._messages: list[Message] = []
        self._faults: dict[str, _Fault] = {}
        self._lock = threading.Lock()
        self._clock = 1_700_000_000

    # lifecycle


    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def webhook_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"


    # control
    def fail(self, path: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `times` requests to `path` (like "/hooks/engineering", "/api/chat.update") with `status`."""
        with self._lock:
            self._faults[path] = _Fault(status, times, retry_after)

    def messages(self, channel: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if channel is None or m.channel == channel]

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    # internals
    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            fault = self._faults.get(path)
            if fault is None or fault.times <= 0:
                return None
            fault.times -= 1
            return fault

    def _post(self, channel: str, text: str, thread_ts: str | None) -> Message:
        with self._lock:
            self._clock += 1
            message = Message(channel, text, f"{self._clock}.000100", thread_ts)
            self._messages.append(message)
            return message

    def _channel_id(self, name: str) -> str:
        return name if name.startswith("C") else "C0" + name.lstrip("#").upper().replace("-", "")

    def api(self, method: str, body: dict[str, Any], authorization: str) -> dict[str, Any]:
        if authorization != f"Bearer {self.token}":
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "team": "Example", "user": "shipdeck", "bot_id": "B0SHIPDECK"}
        channel = self._channel_id(str(body.get("channel", "")))
        if method == "chat.postMessage":
            message = self._post(channel, str(body.get("text", "")), body.get("thread_ts"))
            return {"ok": True, "channel": channel, "ts": message.ts, "message": {"text": message.text, "ts": message.ts}}
        if method == "chat.update":
            with self._lock:
                found = next((m for m in self._messages if m.channel == channel and m.ts == body.get("ts")), None)
                if found is None:
                    return {"ok": False, "error": "message_not_found"}
                found.edits.append(found.text)
                found.text = str(body.get("text", ""))
            return {"ok": True, "channel": channel, "ts": found.ts, "text": found.text}
        return {"ok": False, "error": "unknown_method"}


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass  # a test's stderr is searched for secrets: the fake never logs URLs either

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            with fake._lock:
                fake.requests.append((self.path, raw))
                fake.auth_headers.append(self.headers.get("Authorization") or "")
            fault = fake._take_fault(self.path)
            if fault is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                self._send(fault.status, "rate_limited" if fault.status == 429 else "internal_error", "text/plain", headers)
                return
            if self.path.startswith("/hooks/"):
                self._webhook(self.path.removeprefix("/hooks/"), raw)
            elif self.path.startswith("/api/"):
                body = _body_of(raw, self.headers.get("Content-Type") or "")
                answer = fake.api(self.path.removeprefix("/api/"), body, self.headers.get("Authorization") or "")
                self._send(200, json.dumps(answer), "application/json")
            else:
                self._send(404, "no_service", "text/plain")

        def _webhook(self, name: str, raw: str) -> None:
            try:
                payload = json.loads(raw)
            except ValueError:
                self._send(400, "invalid_payload", "text/plain")
                return
            fake._post("#" + name, str(payload.get("text", "")), None)
            self._send(200, "ok", "text/plain")

        def _send(self, status: int, body: str, content_type: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _body_of(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        try:
            loaded = json.loads(raw or "{}")
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw).items()}


__all__ = ["FakeSlack", "Message"]
