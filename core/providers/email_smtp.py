"""Email for a major release: the release notes sent to customers over SMTP (smtplib, in a thread).

`[email] provider = "smtp"` with host, port, starttls, from, to, and optionally username with
password_env (the NAME of the environment variable holding the password). The password is
revealed only inside the login call and masked out of every error; smtplib's debug output
stays off. The message's Message-ID carries the release's idempotency key, so a person can
find out whether a given release's email went out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..sanitize import plain
from ..secrets import Secret, mask
from .base import ProviderError
from .registry import BuildContext, Check, ProviderSpec, Setting

if TYPE_CHECKING:
    from email.message import EmailMessage


class SmtpMailer:
    """Sends one plain-text email per call through an SMTP server."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        *,
        starttls: bool = True,
        username: str = "",
        password: Secret | None = None,
        timeout: float = 30.0,
        cafile: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.cafile = cafile

    async def send(self, subject: str, body: str, key: str) -> str:
        """Send `body` to every recipient; returns to whom. Raises ProviderError."""
        import asyncio
        import smtplib
        import ssl
        from email.message import EmailMessage
        from email.utils import formatdate

        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = plain(subject)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9.-]', '.', key)}@shipdeck>"
        message.set_content(body)
        try:
            await asyncio.to_thread(self._deliver, message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
            raise ProviderError(
                f"email to {len(self.recipients)} recipient(s) through {self.host}:{self.port} failed: {self._safe(error)}; "
                "check [email] host/port/starttls and the credentials, then `shipdeck doctor`"
            ) from None
        return f"{len(self.recipients)} recipient(s) through {self.host}:{self.port}"

    def _safe(self, error: BaseException) -> str:
        text = f"{error.__class__.__name__}: {error}"
        return plain(mask(text, [self.password] if self.password is not None else []))[:300]

    def _deliver(self, message: EmailMessage) -> None:
        import smtplib
        import ssl

        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=self.cafile))
            if self.username:
                if self.password is None:
                    raise smtplib.SMTPException("username is set but password_env is not")
                smtp.login(self.username, self.password.reveal())
            smtp.send_message(message)


def _build(ctx: BuildContext) -> SmtpMailer | None:
    if ctx.rehearsal:
        return None  # a rehearsal copies the real [email]: it must neither email customers nor need the password
    settings = ctx.settings
    password = ctx.secret("password_env") if settings.get("password_env") else None
    return SmtpMailer(
        settings["host"],
        int(settings["port"]),
        settings["from"],
        list(settings["to"]),
        starttls=bool(settings["starttls"]),
        username=settings.get("username") or "",
        password=password,
        timeout=float(settings["timeout"]),
        cafile=settings.get("cafile"),
    )


async def _check(ctx: BuildContext) -> list[Check]:
    """Connects (and STARTTLS) without sending: the server is there and speaks TLS."""
    import asyncio
    import smtplib
    import ssl

    mailer = _build(ctx)
    if mailer is None:
        return [Check(True, "email: smtp", "not checked in a demo world or rehearsal: it never sends")]

    def probe() -> str:
        with smtplib.SMTP(mailer.host, mailer.port, timeout=mailer.timeout) as smtp:
            if mailer.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=mailer.cafile))
            return "reachable" + (" with STARTTLS" if mailer.starttls else " (no STARTTLS)")

    try:
        return [Check(True, "email: smtp", f"{mailer.host}:{mailer.port} {await asyncio.to_thread(probe)}")]
    except (smtplib.SMTPException, OSError, ssl.SSLError) as error:
        return [Check(False, "email: smtp", f"{mailer.host}:{mailer.port}: {mailer._safe(error)}")]


PROVIDERS = (
    ProviderSpec("email", "none", "no release email: a major release's customer communication stays a manual step"),
    ProviderSpec(
        "email",
        "smtp",
        "the release notes emailed to customers when a major release is announced successful",
        settings={
            "host": Setting("str", required=True, help="SMTP server"),
            "port": Setting("int", default=587, minimum=1),
            "starttls": Setting("bool", default=True, help="upgrade the connection with STARTTLS before logging in"),
            "from": Setting("str", required=True, help="sender address"),
            "to": Setting("strings", required=True, help="recipient addresses (a customer list address)"),
            "username": Setting("str", help="SMTP login"),
            "password_env": Setting("env", help="env var holding the SMTP password"),
            "timeout": Setting("duration", default=30.0, minimum=1),
            "cafile": Setting("str", help="a CA bundle to trust for STARTTLS (a relay with a private CA)"),
        },
        build=_build,
        check=_check,
        example={"provider": "smtp", "host": "smtp.example.com", "port": 587, "starttls": True, "from": "releases@example.com", "to": ["customers@example.com"], "username": "releases", "password_env": "SMTP_PASSWORD"},
    ),
)
