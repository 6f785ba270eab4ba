"""The major release's email, end to end: a production world (real providers only), the real
CLI, `[email] provider = "smtp"` against aiosmtpd on loopback.

The message is counted where it arrives (the aiosmtpd handler). A SIGKILL while the SMTP server
holds the message (received, not yet acknowledged: the sender cannot know) and a SIGKILL just
after the send was journaled must both end, after `resume`, with exactly one email; the SMTP
password (a canary) never shows in any output or in the state directory.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from contextlib import contextmanager
from fakes.product_server import ProductServer
from production_world import Confirming, ProductionWorld, http_smoke, production_world, release_confirming, resume_confirming
from smoke_support import SMOKE_ENV

from shipdeck.core.store import identity

pytestmark = pytest.mark.slow

PASSWORD = "CANARY-smtp-release-password-7d21f0"


class Inbox:
    """What the SMTP server received; `hold_first` keeps the first message unacknowledged (no 250
    yet) until `release` is set, so a test can kill the sender in that window."""

    def __init__(self, hold_first: bool = False) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.passwords: list[str] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.hold_first = hold_first

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content or envelope.content)))
        self.received.set()
        if self.hold_first and len(self.messages) == 1:
            deadline = time.monotonic() + 20
            while not self.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on 127.0.0.1 requiring a login (over plain SMTP: STARTTLS is test_email.py's)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        inbox.passwords.append(auth_data.password.decode())
        return AuthResult(success=auth_data.login == b"releases" and auth_data.password.decode() == PASSWORD, handled=False)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        inbox.release.set()
        controller.stop()


# A major release needs the CTO and product: the captain is the CTO, product is someone else.
PRODUCT_LEAD = "product-lead"
TWO_PEOPLE = Confirming(approvers=(PRODUCT_LEAD,))


@contextmanager
def major_world(root: Path, port: int) -> Iterator[ProductionWorld]:
    """The production world, healthy, emailing through the SMTP server at `port`, smoke-testing
    two loopback products over HTTP (no hand confirmation for smoke)."""
    captain = identity()
    roles = {"engineering-manager": [captain], "cto": [captain], "on-call": [captain], "product": [PRODUCT_LEAD]}
    with ProductServer() as staging, ProductServer() as production:
        smoke = http_smoke(root, staging.url, production.url)
        with production_world(root / "world", scenario="healthy", email=email_table(port), roles=roles, **smoke) as pw:
            yield pw


def email_table(port: int) -> dict[str, Any]:
    return {"provider": "smtp", "host": "127.0.0.1", "port": port, "starttls": False, "from": "releases@example.com",
            "to": ["customers@example.com", "team@example.com"], "username": "releases", "password_env": "SMTP_PASSWORD", "timeout": "10s"}


def events(pw: ProductionWorld) -> list[dict[str, Any]]:
    [path] = sorted((pw.root / "state").glob("*/production/releases/*.jsonl"))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def notes(pw: ProductionWorld) -> list[str]:
    return [e["data"]["message"] for e in events(pw) if e["kind"] == "note"]


def killer(when: Callable[[], bool]) -> Callable[[Any], None]:
    """A watch that SIGKILLs the shipdeck process the moment `when()` holds; remembers that it did."""
    killed: list[int] = []

    def watch(process: Any) -> None:
        while process.poll() is None:
            if not killed and when():
                process.send_signal(signal.SIGKILL)
                killed.append(process.pid)
                return
            time.sleep(0.005)

    watch.killed = killed  # type: ignore[attr-defined]
    return watch


def email_key(pw: ProductionWorld) -> str:
    [key] = {e["data"]["key"] for e in events(pw) if e["kind"] == "intent" and e["data"]["action"] == "email"}
    return str(key)


def message_id(key: str) -> str:
    return "<" + key.replace(":", ".") + "@shipdeck>"


def _journaled(pw: ProductionWorld, predicate: Callable[[dict[str, Any]], bool]) -> bool:
    for path in (pw.root / "state").glob("*/production/releases/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                if predicate(json.loads(line)):
                    return True
            except ValueError:
                pass  # a line in mid-write
    return False


def _email_outcome(event: dict[str, Any]) -> bool:
    return event["kind"] == "outcome" and str(event["data"]["key"]).endswith(":email")


def _assert_no_password(pw: ProductionWorld, *runs: Any) -> None:
    shown = "".join(run.stdout + run.stderr for run in runs)
    stored = b"".join(path.read_bytes() for path in (pw.root / "state").rglob("*") if path.is_file())
    assert PASSWORD not in shown and PASSWORD.encode() not in stored


def test_a_major_release_emails_the_notes_once(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with major_world(tmp_path, port) as pw:
        done = release_confirming(pw, "--type", "major", how=TWO_PEOPLE, SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert done.returncode == 0, done.stdout + done.stderr

        assert len(inbox.messages) == 1 and inbox.passwords == [PASSWORD]
        [(recipients, message)] = inbox.messages
        assert recipients == ["customers@example.com", "team@example.com"]
        assert message["Subject"].endswith(" v2.0.0 is out") and message["From"] == "releases@example.com"
        assert message["Message-ID"] == message_id(email_key(pw))  # a person can find it by the release's key
        assert "v2.0.0" in message.get_payload()
        assert "release email sent to 2 recipient(s) through 127.0.0.1:" + str(port) in notes(pw)
        assert pw.production() == "v2.0.0"
        passed = {e["data"]["step"]: e["data"]["summary"] for e in events(pw) if e["kind"] == "step_passed"}
        assert passed["preflight.staging"] == "5/5 critical paths pass on staging"  # the smoke provider answered,
        assert passed["verify.smoke"] == "5/5 critical paths pass on production"  # not a hand confirmation
        _assert_no_password(pw, done)


def test_a_regular_release_sends_no_email(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with major_world(tmp_path, port) as pw:
        done = release_confirming(pw, SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert done.returncode == 0, done.stdout + done.stderr
        assert pw.production() == "v1.4.0" and inbox.messages == []


def test_killed_while_the_server_holds_the_email_resume_does_not_send_it_again(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    inbox.hold_first = True  # received, not acknowledged: shipdeck cannot know it went out
    with major_world(tmp_path, port) as pw:
        watch = killer(inbox.received.is_set)
        crashed = release_confirming(pw, "--type", "major", how=Confirming(approvers=(PRODUCT_LEAD,), watch=watch), SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert watch.killed and crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr  # type: ignore[attr-defined]
        assert not _journaled(pw, _email_outcome)
        inbox.release.set()

        resumed = resume_confirming(pw, TWO_PEOPLE, SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert len(inbox.messages) == 1
        [doubt] = [n for n in notes(pw) if "may have gone out" in n]
        assert "not sent again: check the recipients' inbox" in doubt
        assert email_key(pw) in doubt and inbox.messages[0][1]["Message-ID"] == message_id(email_key(pw))
        assert pw.production() == "v2.0.0"
        _assert_no_password(pw, crashed, resumed)


def test_killed_after_the_email_was_journaled_resume_does_not_send_it_again(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    with major_world(tmp_path, port) as pw:
        watch = killer(lambda: _journaled(pw, _email_outcome))
        crashed = release_confirming(pw, "--type", "major", how=Confirming(approvers=(PRODUCT_LEAD,), watch=watch), SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert watch.killed and crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr  # type: ignore[attr-defined]
        assert len(inbox.messages) == 1

        resumed = resume_confirming(pw, TWO_PEOPLE, SMTP_PASSWORD=PASSWORD, **SMOKE_ENV)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert len(inbox.messages) == 1 and inbox.passwords == [PASSWORD]
        assert not any("may have gone out" in n for n in notes(pw))
        assert pw.production() == "v2.0.0"
        _assert_no_password(pw, crashed, resumed)
