"""Slack announcements through slack_sdk's real clients against a loopback fake of Slack.

Webhooks post the reference process's messages (429 Retry-After honoured, 500 retried, a
failure reported without the URL); a bot token keeps one message per release, edited in place
with replies in its thread; config mistakes name the key; nothing logs a webhook URL or token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from fakes.slack_fake import FakeSlack

from shipdeck.core.clock import SystemClock
from shipdeck.core.config import ConfigError, parse_config
from shipdeck.core.providers.base import Announcement, NotConfigured, ProviderError
from shipdeck.core.providers.registry import production_registry
from shipdeck.core.providers.slack import SlackNotifier, slack_text
from shipdeck.core.providers.wiring import build_context, build_provider

TOKEN = "xoxb-canary-token-7731"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def _notifier(slack: FakeSlack, notify: dict[str, Any], environ: dict[str, str]) -> Any:
    config = parse_config(Path("shipdeck.toml"), {"notify": {"provider": "slack", **notify}})
    registry = production_registry()
    return build_provider(build_context(config, "notify", SystemClock(), None, "production", registry, environ), registry)


def _webhooks(slack: FakeSlack, **extra: Any) -> tuple[SlackNotifier, dict[str, str]]:
    environ = {"SLACK_WEBHOOK_ENGINEERING": slack.webhook_url("engineering"), "SLACK_WEBHOOK_GENERAL": slack.webhook_url("general")}
    notify = {"channels": {"engineering": "SLACK_WEBHOOK_ENGINEERING", "general": "SLACK_WEBHOOK_GENERAL"}, **extra}
    return _notifier(slack, notify, environ), environ


def test_webhook_posts_the_text_literally(slack: FakeSlack) -> None:
    notifier, _ = _webhooks(slack)
    where = asyncio.run(notifier.post("engineering", "Deploying v1.4.0 to prod <!channel> <https://evil|click>", "k1"))
    assert where == "#engineering (Slack webhook)"
    [message] = slack.messages("#engineering")
    # Slack's markup is escaped: no @channel ping, no disguised link.
    assert message.text == "Deploying v1.4.0 to prod &lt;!channel&gt; &lt;https://evil|click&gt;"
    assert slack_text("a\x1b[31mb & c") == "ab &amp; c"


def test_webhook_honours_retry_after_then_posts_once(slack: FakeSlack) -> None:
    notifier, _ = _webhooks(slack)
    slack.fail("/hooks/engineering", 429, times=1, retry_after=1)
    started = time.monotonic()
    asyncio.run(notifier.post("engineering", "Deploying v1.4.0 to prod", "k1"))
    assert time.monotonic() - started >= 1.0, "the Retry-After of 1s was not honoured"
    assert slack.count("/hooks/engineering") == 2
    assert [m.text for m in slack.messages()] == ["Deploying v1.4.0 to prod"]


def test_a_retry_after_longer_than_a_release_should_wait_fails_the_post_without_the_url(slack: FakeSlack) -> None:
    notifier, environ = _webhooks(slack, max_retry_after="5s")
    slack.fail("/hooks/engineering", 429, times=1, retry_after=3600)
    with pytest.raises(ProviderError) as raised:
        asyncio.run(notifier.post("engineering", "Deploying v1.4.0 to prod", "k1"))
    message = str(raised.value)
    assert "#engineering webhook (SLACK_WEBHOOK_ENGINEERING) answered HTTP 429" in message and "3600s" in message
    assert environ["SLACK_WEBHOOK_ENGINEERING"] not in message and "/hooks/" not in message
    assert slack.count("/hooks/engineering") == 1 and slack.messages() == []


def test_server_errors_are_retried_a_bounded_number_of_times(slack: FakeSlack) -> None:
    notifier, _ = _webhooks(slack, retries=2)
    slack.fail("/hooks/general", 500, times=2)
    asyncio.run(notifier.post("general", "v1.4.0 deployed successfully", "k1"))
    assert slack.count("/hooks/general") == 3 and len(slack.messages("#general")) == 1

    slack.fail("/hooks/general", 500, times=10)
    with pytest.raises(ProviderError, match="answered HTTP 500"):
        asyncio.run(notifier.post("general", "again", "k2"))
    assert slack.count("/hooks/general") == 3 + 3  # one try and two retries, then it gives up


def test_an_unreachable_slack_is_a_provider_error_naming_the_channel() -> None:
    notifier = SlackNotifier({"engineering": _secret("SLACK_WEBHOOK_ENGINEERING", "http://127.0.0.1:9/hooks/canary-path")}, timeout=2, retries=0)
    with pytest.raises(ProviderError) as raised:
        asyncio.run(notifier.post("engineering", "x", "k"))
    assert "Slack the #engineering webhook failed" in str(raised.value) and "canary-path" not in str(raised.value)


def _secret(name: str, value: str) -> Any:
    from shipdeck.core.secrets import Secret

    return Secret(name, value)


def _bot(slack: FakeSlack, **extra: Any) -> SlackNotifier:
    environ = {"SLACK_BOT_TOKEN": TOKEN}
    return _notifier(slack, {"token_env": "SLACK_BOT_TOKEN", "api_url": slack.api_url, **extra}, environ)  # type: ignore[no-any-return]


def test_bot_keeps_one_message_per_release_edited_in_place_with_thread_replies(slack: FakeSlack) -> None:
    bot = _bot(slack)

    async def release() -> list[Any]:
        first = await bot.announce(Announcement("deploying", "engineering", "Deploying v1.4.0 to prod", "v1.4.0 to prod: deploying"), "k1")
        second = await bot.announce(Announcement("rolling_back", "engineering", "Rolling back v1.4.0 to v1.3.0: error rate", "v1.4.0 on prod: rolling back", first.thread), "k2")
        third = await bot.announce(Announcement("rolled_back", "engineering", "Rolled back to v1.3.0 due to error rate", "v1.4.0 rolled back to v1.3.0", second.thread), "k3")
        return [first, second, third]

    first, second, third = asyncio.run(release())
    assert first.thread["channel"] == "C0ENGINEERING" and first.thread["ts"]
    assert second.thread == first.thread == third.thread and not third.missed
    messages = slack.messages("C0ENGINEERING")
    [top] = [m for m in messages if m.thread_ts is None]
    assert top.text == "v1.4.0 rolled back to v1.3.0"
    assert top.edits == ["v1.4.0 to prod: deploying", "v1.4.0 on prod: rolling back"]
    assert [m.text for m in messages if m.thread_ts == top.ts] == [
        "Deploying v1.4.0 to prod",
        "Rolling back v1.4.0 to v1.3.0: error rate",
        "Rolled back to v1.3.0 due to error rate",
    ]
    assert set(slack.auth_headers) == {f"Bearer {TOKEN}"}


def test_bot_success_goes_to_the_thread_and_to_another_channel(slack: FakeSlack) -> None:
    bot = _bot(slack)

    async def release() -> Any:
        first = await bot.announce(Announcement("deploying", "engineering", "Deploying v1.4.0 to prod", "v1.4.0 to prod: deploying"), "k1")
        return await bot.announce(Announcement("deployed", "general", "v1.4.0 deployed successfully", "v1.4.0 on prod: deployed successfully", first.thread), "k2")

    done = asyncio.run(release())
    assert done.where.startswith("the release thread in #engineering and #general")
    assert [m.text for m in slack.messages("C0GENERAL")] == ["v1.4.0 deployed successfully"]
    assert [m.text for m in slack.messages("C0ENGINEERING") if m.thread_ts is None] == ["v1.4.0 on prod: deployed successfully"]


def test_bot_reports_a_failed_edit_and_keeps_the_thread(slack: FakeSlack) -> None:
    bot = _bot(slack, retries=0)

    async def release() -> Any:
        first = await bot.announce(Announcement("deploying", "engineering", "Deploying", "deploying"), "k1")
        slack.fail("/api/chat.update", 500, times=1)
        return await bot.announce(Announcement("rolled_back", "engineering", "Rolled back", "rolled back", first.thread), "k2")

    posted = asyncio.run(release())
    assert posted.thread["ts"] and posted.missed and "was not edited" in posted.missed[0]
    assert "Rolled back" in [m.text for m in slack.messages("C0ENGINEERING")]


def test_a_wrong_token_is_reported_with_its_variable(slack: FakeSlack) -> None:
    bot = _notifier(slack, {"token_env": "SLACK_BOT_TOKEN", "api_url": slack.api_url}, {"SLACK_BOT_TOKEN": "xoxb-wrong"})
    with pytest.raises(ProviderError, match="invalid_auth.*SLACK_BOT_TOKEN"):
        asyncio.run(bot.announce(Announcement("deploying", "engineering", "x", "x"), "k"))


def test_nothing_logs_a_webhook_url_or_the_token(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("slack_sdk", "httpx", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)  # as a user's debugging might
    notifier, environ = _webhooks(slack, retries=1)
    slack.fail("/hooks/engineering", 429, times=1, retry_after=0)
    asyncio.run(notifier.post("engineering", "hello", "k"))
    bot = _bot(slack)
    asyncio.run(bot.announce(Announcement("deploying", "engineering", "x", "x"), "k"))
    assert slack.count("/hooks/engineering") == 2 and slack.count("/api/chat.postMessage") == 2
    for value in (*environ.values(), TOKEN):
        assert value not in caplog.text


@pytest.mark.parametrize(
    ("notify", "key", "problem"),
    [
        ({"channels": {"engineering": "https://hooks.slack.com/services/T/B/x"}}, "notify.channels.engineering", "NAME of the environment variable"),
        ({}, "notify.channels", "a webhook per channel"),
        ({"channels": "SLACK"}, "notify.channels", "expected a table"),
        ({"token_env": "SLACK_BOT_TOKEN", "api_url": "slack.com"}, "notify.api_url", "http(s) URL"),
        ({"channels": {"engineering": "X"}, "retry": 3}, "notify.retry", "did you mean 'retries'"),
    ],
)
def test_config_mistakes_name_the_key(notify: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(Path("shipdeck.toml"), {"notify": {"provider": "slack", **notify}})
    assert raised.value.key == key and problem in raised.value.problem


def test_a_missing_webhook_or_variable_stops_the_build_with_what_to_do(slack: FakeSlack) -> None:
    with pytest.raises(NotConfigured, match=r"no webhook for #general"):
        _notifier(slack, {"channels": {"engineering": "SLACK_WEBHOOK_ENGINEERING"}}, {"SLACK_WEBHOOK_ENGINEERING": "http://x"})
    with pytest.raises(NotConfigured, match="SLACK_WEBHOOK_GENERAL is not set"):
        _notifier(slack, {"channels": {"engineering": "SLACK_WEBHOOK_ENGINEERING", "general": "SLACK_WEBHOOK_GENERAL"}}, {"SLACK_WEBHOOK_ENGINEERING": "http://x"})


def test_doctor_checks_the_token_and_each_webhook_variable_without_posting(slack: FakeSlack) -> None:
    from shipdeck.core.providers.wiring import check_providers

    config = parse_config(Path("shipdeck.toml"), {"notify": {"provider": "slack", "token_env": "SLACK_BOT_TOKEN", "api_url": slack.api_url,
                                                              "channels": {"general": "SLACK_WEBHOOK_GENERAL"}}})

    def rows(environ: dict[str, str]) -> dict[str, tuple[bool, str]]:
        import os

        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            return {row.what: (row.ok, row.detail) for row in check_providers(config, SystemClock(), None)}
        finally:
            os.environ.clear()
            os.environ.update(saved)

    good = rows({"SLACK_BOT_TOKEN": TOKEN, "SLACK_WEBHOOK_GENERAL": slack.webhook_url("general")})
    assert good["notify: slack bot"] == (True, "token in SLACK_BOT_TOKEN accepted for team Example as shipdeck")
    assert good["notify.channels.general"][0] is True
    bad = rows({"SLACK_BOT_TOKEN": "xoxb-revoked"})
    assert bad["notify: slack bot"][0] is False and "invalid_auth" in bad["notify: slack bot"][1] and "xoxb-revoked" not in str(bad)
    assert slack.messages() == [] and slack.count("/api/auth.test") == 2
