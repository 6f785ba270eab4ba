"""The SMTP provider against aiosmtpd on loopback, with STARTTLS (a self-signed certificate made
here with openssl) and AUTH required over TLS: the release notes arrive, the password never
shows in an error."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from email import message_from_bytes
from pathlib import Path
from typing import Any, Iterator

import pytest

from shipdeck.core.clock import SystemClock
from shipdeck.core.config import ConfigError, parse_config
from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.registry import production_registry
from shipdeck.core.providers.wiring import build_context, build_provider

PASSWORD = "smtp-canary-password-5521"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test's certificate")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    inbox = Inbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        inbox.logins.append((login, password))
        return AuthResult(success=(login, password) == ("releases", PASSWORD), handled=False)

    port = _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_require_tls=True, auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()


def _mailer(port: int, cert: Path, password: str = PASSWORD, **extra: Any) -> Any:
    table = {"provider": "smtp", "host": "127.0.0.1", "port": port, "from": "releases@example.com",
             "to": ["customers@example.com", "team@example.com"], "username": "releases", "password_env": "SMTP_PASSWORD",
             "cafile": str(cert), "timeout": "5s", **extra}
    config = parse_config(Path("shipdeck.toml"), {"email": table})
    registry = production_registry()
    return build_provider(build_context(config, "email", SystemClock(), None, "production", registry, {"SMTP_PASSWORD": password}), registry)


def test_release_notes_arrive_over_starttls_with_auth(smtp: tuple[Inbox, int, Path]) -> None:
    inbox, port, cert = smtp
    to = asyncio.run(_mailer(port, cert).send("demo v2.0.0 is out", "## New Features\n- AI Copilot", "r1:announce.success:1:email"))
    assert to == f"2 recipient(s) through 127.0.0.1:{port}"
    [(sender, recipients, raw)] = inbox.messages
    assert sender == "releases@example.com" and recipients == ["customers@example.com", "team@example.com"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "demo v2.0.0 is out"
    assert message["Message-ID"] == "<r1.announce.success.1.email@shipdeck>"
    assert "AI Copilot" in message.get_payload()
    assert inbox.logins == [("releases", PASSWORD)]


def test_a_refused_login_is_reported_without_the_password(smtp: tuple[Inbox, int, Path]) -> None:
    inbox, port, cert = smtp
    with pytest.raises(ProviderError) as raised:
        asyncio.run(_mailer(port, cert, password="wrong-" + PASSWORD).send("s", "b", "k"))
    assert "SMTPAuthenticationError" in str(raised.value) and PASSWORD not in str(raised.value)
    assert inbox.messages == []


def test_an_untrusted_certificate_is_refused(smtp: tuple[Inbox, int, Path], tmp_path: Path) -> None:
    inbox, port, _ = smtp
    (tmp_path / "other").mkdir()
    other, _key = _certificate(tmp_path / "other")  # a certificate the server does not use
    with pytest.raises(ProviderError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        asyncio.run(_mailer(port, other).send("s", "b", "k"))
    assert inbox.messages == [] and inbox.logins == []


def test_nobody_listening_is_a_clear_error() -> None:
    with pytest.raises(ProviderError, match=r"through 127.0.0.1:\d+ failed: ConnectionRefusedError"):
        asyncio.run(_mailer(_free_port(), Path("/nonexistent"), starttls=False).send("s", "b", "k"))


def test_config_mistakes_name_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(Path("shipdeck.toml"), {"email": {"provider": "smtp", "host": "h", "from": "a@b"}})
    assert raised.value.key == "email.to"
    with pytest.raises(ConfigError) as raised:
        parse_config(Path("shipdeck.toml"), {"email": {"provider": "smtp", "host": "h", "from": "a@b", "to": ["c@d"], "password_env": "hunter2!"}})
    assert raised.value.key == "email.password_env" and "NAME of an environment variable" in raised.value.problem


@pytest.mark.slow
def test_a_rehearsed_major_release_never_emails_customers_nor_needs_the_password(smtp: tuple[Inbox, int, Path], tmp_path: Path) -> None:
    from announce_support import rewrite_config
    from cli_support import fast_world, journal_events, shipdeck

    inbox, port, cert = smtp
    world = fast_world(tmp_path)
    rewrite_config(world, email={"provider": "smtp", "host": "127.0.0.1", "port": port, "from": "releases@example.com",
                                 "to": ["customers@example.com"], "username": "releases", "password_env": "SMTP_PASSWORD", "cafile": str(cert)})
    # No SMTP_PASSWORD exported: a rehearsal neither needs the password nor sends.
    result = shipdeck(world, "release", "--auto", "--yes", "--type", "major")
    assert "SMTP_PASSWORD" not in result.stderr, result.stderr
    notes = [e["data"]["message"] for e in journal_events(world) if e["kind"] == "note"]
    assert "rehearsal: the release email to customers was not sent" in notes
    assert inbox.messages == [] and inbox.logins == []
