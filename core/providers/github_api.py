"""One small GitHub REST client over httpx, shared by the Actions deployer, CI status and Releases.

What it guarantees, so the providers above it need not:
- the token (a `Secret`) goes in an `Authorization: Bearer` header to the configured host
  only: redirects are never followed to another host, and no log line of httpx/httpcore can
  carry it (a filter masks it);
- `x-ratelimit-remaining`/`x-ratelimit-reset` and `retry-after` are honoured by waiting, but
  only up to `max_wait`; past that the caller gets a ProviderError that says when to retry;
- every error names GitHub, the request, what the server said (as plain text: response
  bodies are untrusted) and what to do.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, ParamSpec, TypeVar
from urllib.parse import urlsplit

import httpx

from ..sanitize import plain
from ..secrets import Secret, mask
from .base import ProviderError

DEFAULT_API_URL = "https://api.github.com"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_REDIRECTS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 3
_MAX_RATE_LIMIT_RETRIES = 3

Sleep = Callable[[float], Awaitable[None]]
P = ParamSpec("P")
T = TypeVar("T")


class GitHubTimeout(ProviderError):
    """A request got no answer in time: the server may or may not have acted on it."""


class GitHubStatusError(ProviderError):
    """GitHub answered with an error status; `status` and `text` (sanitised) say which."""

    def __init__(self, message: str, status: int, text: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = text


def check_api_url(url: str) -> str | None:
    """Why `url` may not carry a token (None when it may): https, or http to loopback for tests."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK:
        return None
    return f"{url!r} is not https (plain http is allowed only to 127.0.0.1/localhost, for tests); the token would travel in clear"


class _MaskSecrets(logging.Filter):
    """Masks every live client's token in httpx/httpcore log records (they log at INFO/DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[Secret] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = mask(record.getMessage(), self.secrets)
            record.args = None
        return True


_LOG_FILTER = _MaskSecrets()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_LOG_FILTER)


@dataclass(frozen=True)
class Answer:
    """A successful response: status, decoded JSON (None for an empty body) and headers."""

    status: int
    data: Any
    headers: Mapping[str, str]


class GitHubClient:
    """Async GitHub REST calls against one API host with one token."""

    def __init__(
        self,
        token: Secret,
        *,
        api_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        max_wait: float = 60.0,
        sleep: Sleep | None = None,
        what: str = "GitHub",
    ) -> None:
        problem = check_api_url(api_url)
        if problem is not None:
            raise ProviderError(f"{what}: api_url {problem}; set api_url to an https URL")
        self.api_url = api_url.rstrip("/")
        self.what = what
        self.max_wait = max_wait
        self._token = token
        self._sleep: Sleep = sleep or asyncio.sleep
        self._origin = _origin(self.api_url)
        self._wait_until = 0.0  # epoch seconds: the budget is spent until then
        if token not in _LOG_FILTER.secrets:
            _LOG_FILTER.secrets.append(token)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,  # redirects are followed by hand, same host only
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "shipdeck"},
        )

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc

    async def close(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return (await self.request("GET", path, params=params)).data

    async def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None, allow: tuple[int, ...] = ()
    ) -> Answer:
        """One call; raises GitHubStatusError for a status >= 400 not in `allow`, ProviderError otherwise."""
        url = f"{self.api_url}{path}"
        label = f"{method} {path}"
        for _attempt in range(_MAX_RATE_LIMIT_RETRIES + 1):
            await self._respect_budget(label)
            response = await self._send(method, url, label, params, json)
            self._note_budget(response)
            wait = _rate_limit_wait(response)
            if wait is None:
                return self._answer(response, label, allow)
            await self._wait(wait, label, response)
        raise ProviderError(f"{self.what} API kept refusing {label} for its rate limit after {_MAX_RATE_LIMIT_RETRIES} waits; try again later")

    async def _send(self, method: str, url: str, label: str, params: Mapping[str, Any] | None, json: Any) -> httpx.Response:
        for _hop in range(_MAX_REDIRECTS + 1):
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers={"Authorization": f"Bearer {self._token.reveal()}"}
                )
            except httpx.TimeoutException:
                raise GitHubTimeout(f"{self.what} API at {self.host} did not answer {label} in time; it may or may not have acted on it") from None
            except httpx.HTTPError as error:
                detail = mask(plain(str(error)), [self._token])
                raise ProviderError(f"{self.what} API at {self.host} unreachable for {label}: {detail}; check api_url and the network") from None
            if response.status_code not in _REDIRECTS:
                return response
            target = str(response.url.join(response.headers.get("location", "")))
            if _origin(target) != self._origin:
                raise ProviderError(
                    f"{self.what} API redirected {label} to another host ({plain(urlsplit(target).netloc)}); "
                    f"shipdeck sends the token only to {self.host}: check api_url and the repository name"
                )
            url, params = target, None  # the Location carries its own query
            if response.status_code == 303:
                method, json = "GET", None
        raise ProviderError(f"{self.what} API redirected {label} more than {_MAX_REDIRECTS} times; check api_url")

    def _answer(self, response: httpx.Response, label: str, allow: tuple[int, ...]) -> Answer:
        status = response.status_code
        text = plain(mask(response.text, [self._token])[:500])
        if status >= 400 and status not in allow:
            message = _message(response, [self._token])
            raise GitHubStatusError(f"{self.what} API answered {label} with {status}: {message}; {_advice(status)}", status, text)
        if not response.content:
            return Answer(status, None, response.headers)
        try:
            return Answer(status, response.json(), response.headers)
        except ValueError:
            raise ProviderError(f"{self.what} API answered {label} with a body that is not JSON: {text[:120]!r}; check api_url") from None

    async def _respect_budget(self, label: str) -> None:
        remaining = self._wait_until - time.time()
        if remaining > 0:
            await self._wait(remaining, label, None)

    def _note_budget(self, response: httpx.Response) -> None:
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = _number(response.headers.get("x-ratelimit-reset"))
            if reset is not None:
                self._wait_until = reset

    async def _wait(self, seconds: float, label: str, response: httpx.Response | None) -> None:
        if seconds > self.max_wait:
            at = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + seconds))
            said = f" ({_message(response, [self._token])})" if response is not None else ""
            raise ProviderError(
                f"{self.what} API rate limit reached for {label}{said}: it resets at {at}, in {seconds:.0f}s, "
                f"longer than shipdeck waits ({self.max_wait:.0f}s); retry after that, or use a token with a higher limit"
            )
        await self._sleep(max(seconds, 0.0))
        self._wait_until = 0.0


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower())


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait before asking again, or None when this answer is not a rate limit."""
    if response.status_code not in (403, 429):
        return None
    retry_after = _number(response.headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = _number(response.headers.get("x-ratelimit-reset"))
        return max(0.0, reset - time.time()) + 1.0 if reset is not None else 60.0
    if response.status_code == 429:
        return 60.0  # GitHub's advice when it gives no header: wait at least a minute
    return None  # a plain 403: permissions, not a budget


def _message(response: httpx.Response | None, secrets: list[Secret]) -> str:
    """GitHub's error message, the token masked before anything is cut (a proxy may echo it)."""
    if response is None:
        return ""
    text = mask(response.text, secrets)
    try:
        body = json.loads(text)
    except ValueError:
        return plain(text[:200]) or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return plain(str(body["message"])[:300])
    return plain(str(body)[:200])


def _advice(status: int) -> str:
    if status == 401:
        return "the token is missing, expired or revoked: export a valid one and run `shipdeck doctor`"
    if status == 403:
        return "the token lacks a permission for this: give it the repository's actions/deployments/contents scopes"
    if status == 404:
        return "check the repository and workflow names (a token without access also sees 404)"
    if status in (400, 422):
        return "GitHub refused the request as given: check the settings it names"
    if status >= 500:
        return "GitHub had a server error: retry, and check githubstatus.com"
    return "see the message"


def shape_checked(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A provider method whose GitHub answers lack a field or have another shape fails as a ProviderError.

    Answers are untrusted input: a proxy or a wrong api_url must give a clear message, not a traceback.
    """

    @functools.wraps(function)
    async def checked(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await function(*args, **kwargs)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ProviderError(
                f"GitHub answered with data shipdeck does not understand in {function.__name__} "
                f"({error.__class__.__name__}: {plain(str(error))[:120]}); check that api_url points at the GitHub REST API"
            ) from None

    return checked
