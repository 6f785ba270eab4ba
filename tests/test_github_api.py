"""The GitHub client over real HTTP: rate limits, redirects, token hygiene, errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Iterator

import pytest
from fakes.github_fake import FakeGitHub, running_fake

from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.github_api import GitHubClient, GitHubStatusError, check_api_url
from shipdeck.core.secrets import Secret

TOKEN = "ghs_faketoken123"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running_fake(token=TOKEN) as github:
        yield github


def client(fake: FakeGitHub, token: str = TOKEN, **kwargs: Any) -> GitHubClient:
    return GitHubClient(Secret("GITHUB_TOKEN", token), api_url=fake.url, **kwargs)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def get(fake: FakeGitHub, path: str, **kwargs: Any) -> Any:
    """One GET through a fresh client (closed after)."""

    async def go() -> Any:
        github = client(fake, **kwargs)
        try:
            return await github.get(path)
        finally:
            await github.close()

    return run(go())


def test_get_sends_the_bearer_token(fake: FakeGitHub) -> None:
    assert get(fake, "/repos/acme/shop") == {"full_name": "acme/shop"}
    assert fake.authorizations[-1] == ("/repos/acme/shop", f"Bearer {TOKEN}")


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_waits_for_reset_then_succeeds(fake: FakeGitHub, status: int) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    fake.rate_limit(2, status=status, reset_in=3)

    assert get(fake, "/repos/acme/shop", sleep=sleep) == {"full_name": "acme/shop"}
    assert len(waits) == 2 and all(1.0 <= w <= 5.0 for w in waits), waits
    assert fake.requests["GET /repos/acme/shop"] == 3


def test_retry_after_is_honoured(fake: FakeGitHub) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    fake.rate_limit(1, status=403, retry_after=7)

    get(fake, "/repos/acme/shop", sleep=sleep)
    assert waits == [7.0]


def test_rate_limit_longer_than_max_wait_is_a_clear_error(fake: FakeGitHub) -> None:
    fake.rate_limit(1, status=429, reset_in=3600)

    with pytest.raises(ProviderError) as error:
        get(fake, "/repos/acme/shop", max_wait=5)
    message = str(error.value)
    assert "rate limit" in message and "GET /repos/acme/shop" in message and "retry after" in message
    assert TOKEN not in message


def test_a_plain_403_is_a_permission_error_not_a_wait(fake: FakeGitHub) -> None:
    with pytest.raises(GitHubStatusError) as error:
        get(fake, "/repos/acme/shop", token="wrong")
    assert error.value.status == 401
    assert "Bad credentials" in str(error.value) and "shipdeck doctor" in str(error.value)
    assert "wrong" not in str(error.value)


def test_redirect_to_another_host_never_carries_the_token(fake: FakeGitHub) -> None:
    other = FakeGitHub(token=TOKEN)
    other_url = other.start(host="127.0.0.1").replace("127.0.0.1", "localhost")
    try:
        fake.redirect["/repos/acme/shop"] = f"{other_url}/repos/acme/shop"

        with pytest.raises(ProviderError, match="another host"):
            get(fake, "/repos/acme/shop")
        assert other.authorizations == []
    finally:
        other.stop()


def test_redirect_on_the_same_host_is_followed(fake: FakeGitHub) -> None:
    fake.redirect["/repos/acme/old-name"] = f"{fake.url}/repos/acme/shop"

    assert get(fake, "/repos/acme/old-name") == {"full_name": "acme/shop"}


def test_no_log_line_carries_the_token(fake: FakeGitHub, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        github = client(fake)
        try:
            await github.get("/repos/acme/shop")
            await github.request("GET", "/repos/acme/missing", allow=(404,))
        finally:
            await github.close()

    with caplog.at_level(logging.DEBUG):
        run(go())
    assert any("api" in r.name or "http" in r.name for r in caplog.records), "httpx logged nothing: the check proves nothing"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_response_text_is_sanitised(fake: FakeGitHub) -> None:
    fake.errors["/repos/acme/shop"] = (500, "boom \x1b]52;c;ZXZpbA==\x07 \x1b[31mred")

    with pytest.raises(GitHubStatusError) as error:
        get(fake, "/repos/acme/shop")
    assert "\x1b" not in str(error.value) and "\x07" not in str(error.value)
    assert "boom" in str(error.value) and "500" in str(error.value) and "retry" in str(error.value)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("https://api.github.com", True), ("https://ghe.example.com/api/v3", True), ("http://127.0.0.1:9", True), ("http://localhost:9", True), ("http://api.github.com", False), ("ftp://x", False)],
)
def test_only_https_or_loopback_may_carry_a_token(url: str, allowed: bool) -> None:
    assert (check_api_url(url) is None) is allowed
    if not allowed:
        with pytest.raises(ProviderError, match="https"):
            GitHubClient(Secret("T", "x"), api_url=url)
