"""Slack announcements: incoming webhooks per channel, or a bot that keeps one thread per release.

`[notify] provider = "slack"` with `[notify.channels]` mapping a channel to the NAME of the
environment variable holding its webhook URL. With `token_env` (a bot token) the release is
one message posted with chat.postMessage and edited in place with chat.update as it
progresses, with a reply in its thread for each moment; webhooks, which cannot edit, post the
reference process's messages one by one.

The webhook URLs and the token are secrets: they are revealed only inside the call that sends
them, never formatted into an error, and slack_sdk's own logging (which writes URLs at DEBUG
and INFO) goes through a logger that drops everything below WARNING and masks them.
slack_sdk's clients are synchronous (it needs aiohttp for its async ones): they run in a thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..sanitize import plain
from ..secrets import Secret, mask
from .base import Announcement, NotConfigured, Posted, ProviderError, in_thread
from .registry import BuildContext, Check, ProviderSpec, Setting, SettingError, _ENV_NAME

if TYPE_CHECKING:
    from slack_sdk.http_retry import RetryHandler

DEFAULT_API_URL = "https://slack.com/api/"
CLIENT_LOGGERS = ("slack_sdk", "slack", "httpx", "httpcore", "urllib3")


def quiet_client_loggers() -> None:
    """Keep the HTTP clients' own loggers from ever writing a URL (they do at DEBUG/INFO)."""
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


class _MaskSecrets(logging.Filter):
    """Masks the secrets in any record that does get through (warnings and errors)."""

    def __init__(self, secrets: list[Secret]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage(), self.secrets)
        record.args = None
        return True


def slack_text(text: str) -> str:
    """Untrusted text as Slack shows it literally: controls removed, `& < >` escaped (no pings, no links)."""
    return plain(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _retry_handlers(retries: int, max_retry_after: float) -> list[RetryHandler]:
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

    class BoundedRateLimit(RateLimitErrorRetryHandler):
        """Honours Retry-After, unless Slack asks for longer than a release should wait."""

        def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
            if response is None or response.status_code != 429:
                return False
            wait = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), ["1"])
            try:
                return float(wait[0] if isinstance(wait, list) else wait) <= max_retry_after
            except ValueError:
                return False

    return [BoundedRateLimit(max_retry_count=retries), ServerErrorRetryHandler(max_retry_count=retries)]


class SlackNotifier:
    """Posts announcements through webhooks, or through a bot that keeps one thread per release."""

    def __init__(
        self,
        webhooks: Mapping[str, Secret],
        token: Secret | None = None,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        retries: int = 2,
        max_retry_after: float = 30.0,
    ) -> None:
        self.webhooks = dict(webhooks)
        self.token = token
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self.retries = retries
        self.max_retry_after = max_retry_after
        self._secrets = [*self.webhooks.values(), *([token] if token is not None else [])]
        # A logger of this notifier's own (not in the registry: filters would pile up per build).
        self._logger = logging.Logger("shipdeck.slack.client", logging.WARNING)
        self._logger.parent = logging.getLogger("shipdeck")
        self._logger.addFilter(_MaskSecrets(self._secrets))
        quiet_client_loggers()

    async def post(self, channel: str, text: str, key: str) -> str:
        """One plain message to `channel` (a webhook, or the bot when there is no webhook for it)."""
        if channel in self.webhooks:
            return str(await self._call(f"the #{channel} webhook", lambda: self._webhook_send(channel, text)))
        if self.token is not None:
            answer = await self._call("chat.postMessage", lambda: self._api("chat_postMessage", channel=f"#{channel}", text=slack_text(text)))
            return f"#{channel} (Slack, ts {answer.get('ts', '?')})"
        raise ProviderError(
            f"no Slack webhook for #{channel}: add `{channel} = \"SLACK_WEBHOOK_{channel.upper().replace('-', '_')}\"` "
            "under [notify.channels] (or set token_env for a bot)"
        )

    async def was_posted(self, key: str) -> bool:
        return False  # Slack cannot be searched for our key: posting again beats a silent channel

    async def announce(self, announcement: Announcement, key: str) -> Posted:
        """The bot edits the release's message and replies in its thread; webhooks post `text`."""
        if self.token is None:
            return Posted(await self.post(announcement.channel, announcement.text, key))
        thread = dict(announcement.thread)
        missed: list[str] = []
        if not thread:
            answer = await self._call("chat.postMessage", lambda: self._api("chat_postMessage", channel=f"#{announcement.channel}", text=slack_text(announcement.headline)))
            thread = {"channel": str(answer.get("channel", "")), "ts": str(answer.get("ts", "")), "name": announcement.channel}
        else:
            try:
                await self._call("chat.update", lambda: self._api("chat_update", channel=thread["channel"], ts=thread["ts"], text=slack_text(announcement.headline)))
            except ProviderError as error:
                missed.append(f"the release message was not edited: {error}")
        try:
            await self._call("the thread reply", lambda: self._api("chat_postMessage", channel=thread["channel"], thread_ts=thread["ts"], text=slack_text(announcement.text)))
        except ProviderError as error:
            missed.append(f"no reply in the thread: {error}")
        where = f"the release thread in #{thread.get('name', announcement.channel)}"
        if announcement.channel != thread.get("name", announcement.channel):
            # The reference process tells #general too; a thread lives in one channel.
            try:
                where += " and " + await self.post(announcement.channel, announcement.text, key)
            except ProviderError as error:
                missed.append(str(error))
        return Posted(where, thread, tuple(missed))

    async def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return await in_thread(call)
        except ProviderError:
            raise
        except Exception as error:  # urllib, ssl, slack_sdk: whatever it is, said without a secret
            raise ProviderError(f"Slack {what} failed: {self._safe(f'{error.__class__.__name__}: {error}')}") from None

    def _safe(self, text: str) -> str:
        return plain(mask(text, self._secrets))[:300]

    def _webhook_send(self, channel: str, text: str) -> str:
        from slack_sdk.webhook import WebhookClient

        secret = self.webhooks[channel]
        client = WebhookClient(
            secret.reveal(), timeout=max(1, round(self.timeout)), logger=self._logger, retry_handlers=_retry_handlers(self.retries, self.max_retry_after)
        )
        response = client.send(text=slack_text(text))
        if response.status_code != 200:
            retry = response.headers.get("Retry-After") or response.headers.get("retry-after")
            hint = f" (Slack asked to wait {retry[0] if isinstance(retry, list) else retry}s)" if retry else ""
            raise ProviderError(f"the #{channel} webhook ({secret.name}) answered HTTP {response.status_code}{hint}: {self._safe(response.body or '')}")
        return f"#{channel} (Slack webhook)"

    def _api(self, method: str, **arguments: Any) -> Mapping[str, Any]:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        assert self.token is not None
        client = WebClient(
            token=self.token.reveal(),
            base_url=self.api_url,
            timeout=max(1, round(self.timeout)),
            logger=self._logger,
            retry_handlers=_retry_handlers(self.retries, self.max_retry_after),
        )
        try:
            response = getattr(client, method)(**arguments)
        except SlackApiError as error:
            status = error.response.status_code
            detail = error.response.get("error") if isinstance(error.response.data, dict) else None
            raise ProviderError(
                f"Slack {method.replace('_', '.')} answered HTTP {status}: {self._safe(str(detail or error.response.data))[:200]}"
                + ("; check the bot token in " + self.token.name if detail in ("invalid_auth", "not_authed", "token_revoked") else "")
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}


def _check_channels(table: Mapping[str, Any]) -> None:
    channels = table.get("channels", {})
    if not isinstance(channels, Mapping):
        raise SettingError("channels", f"expected a table of channel = \"ENV_VAR_NAME\", found {type(channels).__name__}")
    for channel, variable in channels.items():
        if not isinstance(variable, str) or not _ENV_NAME.match(variable):
            raise SettingError(
                f"channels.{channel}", f"expected the NAME of the environment variable holding #{channel}'s webhook URL (like SLACK_WEBHOOK_ENGINEERING), found {variable!r}; secrets never go in the file"
            )
    if not channels and not table.get("token_env"):
        raise SettingError("channels", 'Slack needs a webhook per channel ([notify.channels] engineering = "SLACK_WEBHOOK_ENGINEERING") or a bot token (token_env)')


def _build(ctx: BuildContext) -> SlackNotifier:
    channels: Mapping[str, str] = ctx.settings.get("channels") or {}
    token = ctx.secret("token_env") if ctx.settings.get("token_env") else None
    if token is None:
        for name in (ctx.config.release.announce_channel, ctx.config.release.success_channel):
            if name not in channels:
                raise NotConfigured(
                    f"[notify.channels] has no webhook for #{name} (announced to by [release]); add {name} = \"SLACK_WEBHOOK_...\" or set token_env"
                )
    webhooks = {channel: Secret.from_env(variable, ctx.environ) for channel, variable in channels.items()}
    return SlackNotifier(
        webhooks,
        token,
        api_url=ctx.settings.get("api_url") or DEFAULT_API_URL,
        timeout=float(ctx.settings["timeout"]),
        retries=int(ctx.settings["retries"]),
        max_retry_after=float(ctx.settings["max_retry_after"]),
    )


async def _check(ctx: BuildContext) -> list[Check]:
    """Each webhook variable set (nothing is posted: doctor never announces); the bot token accepted (auth.test)."""
    rows = []
    for channel, variable in (ctx.settings.get("channels") or {}).items():
        present = bool(ctx.environ.get(variable))
        rows.append(Check(present, f"notify.channels.{channel}", f"{variable} is {'set' if present else 'not set'} (not posted to: doctor never announces)"))
    if ctx.settings.get("token_env"):
        token = ctx.secret("token_env")
        bot = SlackNotifier({}, token, api_url=ctx.settings.get("api_url") or DEFAULT_API_URL, timeout=float(ctx.settings["timeout"]), retries=0)
        try:
            answer = await bot._call("auth.test", lambda: bot._api("auth_test"))
            rows.append(Check(True, "notify: slack bot", f"token in {token.name} accepted for team {plain(answer.get('team', '?'))} as {plain(answer.get('user', '?'))}"))
        except ProviderError as error:
            rows.append(Check(False, "notify: slack bot", str(error)))
    return rows


PROVIDERS = (
    ProviderSpec(
        "notify",
        "slack",
        "Slack: webhooks per channel, or a bot keeping one thread per release",
        settings={
            "channels": Setting("table", default={}, help="channel = NAME of the env var holding its webhook URL"),
            "token_env": Setting("env", help="env var holding a bot token (chat:write): one message per release, edited in place"),
            "api_url": Setting("url", help="Slack Web API base URL (tests point it at a fake)"),
            "timeout": Setting("duration", default=10.0, minimum=1, help="per request"),
            "retries": Setting("int", default=2, minimum=0, help="retries after a 429 or a 5xx"),
            "max_retry_after": Setting("duration", default=30.0, minimum=0, help="longest Retry-After honoured; longer fails the post"),
        },
        build=_build,
        check=_check,
        check_section=_check_channels,
        example={"provider": "slack", "channels": {"engineering": "SLACK_WEBHOOK_ENGINEERING", "general": "SLACK_WEBHOOK_GENERAL"}},
    ),
)
