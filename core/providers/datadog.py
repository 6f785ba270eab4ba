"""Datadog as shipdeck's metrics source, deploy marker and DORA feed (datadog-api-client).

- One `query_timeseries_data` request per poll for every watched series (their named queries
  renamed apart, one formula per series), run in a thread (the client is synchronous).
- Rate limits are read from `X-RateLimit-*` (the query client returns `(data, status, headers)`)
  and exposed as `budget`; `next_poll_in()` stretches the poll before the budget runs out.
- Queries never use the client's own retries: time spent retrying is time without data, so
  shipdeck decides. A 429 is waited out when its reset falls inside the caller's deadline; 5xx,
  timeouts and unreadable or empty bodies are retried with a short backoff within the deadline;
  then `DatadogError` (a ProviderError) says which endpoint failed and what to do. No fault
  ever yields a value: NaN and infinities are None.
- Deploy markers (an event and a DORA deployment with a stable id) and flag change markers (an
  event) use the client's retries, with its wait for a rate-limit reset bounded (a retried
  DORA POST carries the same id, so Datadog counts it once), and never raise.
- API and application keys are `Secret`s, revealed only inside the call that builds the client
  configuration; messages are masked, and the client's and urllib3's loggers stay at WARNING
  (`Configuration(debug=False)` sets them so), which keeps request details out of logs.

`datadog_api_client` is imported lazily, so importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from ..secrets import Secret, mask
from .base import MetricPoint
from .datadog_markers import Deployment, FlagChange, MarkKind, bounded_client_retry, post_dora, post_event, post_flag_event
from .datadog_wire import (
    DORA_ENDPOINT,
    EVENTS_ENDPOINT,
    QUERY_ENDPOINT,
    CombinedQuery,
    DatadogError,
    RateBudget,
    SeriesQuery,
    Unreadable,
    build_request,
    buckets_by_series,
    combine,
    dora_id,
    read_budget,
    usable_number,
)

__all__ = ["DatadogMetrics", "DatadogError", "RateBudget", "SeriesQuery"]

log = logging.getLogger(__name__)

class _MaskedKeys(dict):  # type: ignore[type-arg]
    """The client's key table, which shows no value if anything ever prints the configuration."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: '***'" for key in self) + "}"

    __str__ = __repr__


@dataclass(frozen=True)
class _Attempt:
    """One HTTP exchange, classified in the worker thread (no client exception leaves it)."""

    kind: Literal["ok", "rate", "retry", "fatal"]
    answer: Mapping[str, Any] | None = None
    headers: Mapping[str, Any] | None = None
    status: int | None = None
    detail: str = ""


class DatadogMetrics:
    """The Datadog provider: `latest`, `history`, `baseline`, `mark`, `check`, `budget`."""

    def __init__(
        self,
        *,
        url: str | None,
        site: str = "datadoghq.com",
        api_key: Secret,
        app_key: Secret,
        series: Mapping[str, SeriesQuery],
        service: str,
        environment: str,
        timeout: float = 10.0,
        interval: float = 10.0,
        lookback: float = 120.0,
    ) -> None:
        """Args:
        url: base URL override (`http://127.0.0.1:PORT` for the fake); wins over `site`.
        site: the Datadog site (`datadoghq.com`, `datadoghq.eu`, `us3.datadoghq.com`, …).
        series: what to query per watched series name.
        service, environment: the Unified Service Tagging `service` and `env` for markers.
        timeout: seconds per HTTP request, and the default deadline of a query with its retries.
        interval: bucket size in seconds for `latest()` (the config's metrics interval).
        lookback: how far back `latest()` looks for the newest bucket with data, which is also
            the oldest a value it returns can be (Datadog's newest buckets are often still
            empty); a series silent for longer is None.
        """
        self.host = url.rstrip("/") if url else f"https://api.{site.strip().removeprefix('app.')}"
        self.series = dict(series)
        self.service = service
        self.environment = environment
        self.timeout = float(timeout)
        self.interval = float(interval)
        self.lookback = float(lookback)
        self._api_key = api_key
        self._app_key = app_key
        self._budget: RateBudget | None = None
        self._build_lock = threading.Lock()
        self._query_lock = threading.Lock()  # the query client's timeout is set per attempt
        self._query_api: Any = None
        self._query_client: Any = None
        self._intake: Any = None
        self._combined: dict[tuple[str, ...], CombinedQuery] = {}

    def __repr__(self) -> str:
        return (
            f"DatadogMetrics(host={self.host!r}, series={list(self.series)!r}, service={self.service!r}, "
            f"environment={self.environment!r}, api_key={self._api_key!r}, app_key={self._app_key!r})"
        )

    # -- public API ------------------------------------------------------------------------

    @property
    def budget(self) -> RateBudget | None:
        """The query rate-limit budget as Datadog last reported it; None before the first answer."""
        return self._budget

    def next_poll_in(self, interval: float) -> float:
        """Seconds until the next poll: `interval`, stretched so the remaining budget lasts until its reset."""
        budget = self._budget
        if budget is None:
            return interval
        reset_in = budget.reset_in(time.monotonic())
        if reset_in <= 0:
            return interval
        if budget.remaining <= 0:
            return max(interval, reset_in)
        return max(interval, reset_in / budget.remaining)

    def describe_query(self, name: str) -> str:
        """The query text behind series `name`, for evidence and explained verdicts."""
        definition = self.series.get(name)
        return definition.describe() if definition is not None else f"no Datadog query configured for {name!r}"

    async def latest(self, series: Sequence[str], now: float, *, deadline: float | None = None) -> list[MetricPoint]:
        """The newest bucket with data of each series in the `lookback` before `now`, in ONE request.

        A point's `at` is its bucket's time; with no data it is `now` and the value None, as it
        is for NaN or infinity. Raises DatadogError when no usable answer came within `deadline`
        seconds (default: the timeout).
        """
        buckets = await self._query(self._combine(series), now - self.lookback, now, self.interval, deadline)
        points = []
        for name in series:
            newest = next(((at, value) for at, value in reversed(buckets[name]) if value is not None), None)
            points.append(MetricPoint(name, now, None) if newest is None else MetricPoint(name, newest[0], usable_number(newest[1])))
        return points

    async def history(
        self, series: Sequence[str], start: float, end: float, interval: float, *, deadline: float | None = None
    ) -> list[MetricPoint]:
        """Every bucket of [start, end) for each series in ONE request (backfill after a restart).

        A series Datadog has no data for in the window gets no points. Raises DatadogError.
        """
        buckets = await self._query(self._combine(series), start, end, interval, deadline)
        return [MetricPoint(name, at, usable_number(value)) for name in series for at, value in buckets[name]]

    async def baseline(self, series: Sequence[str], start: float, end: float, *, deadline: float | None = None) -> dict[str, float | None]:
        """Each series' mean over [start, end) (the "before the deploy" reference); None without data."""
        interval = max(self.interval, (end - start) / 300.0)
        buckets = await self._query(self._combine(series), start, end, interval, deadline)
        means: dict[str, float | None] = {}
        for name in series:
            numbers = [number for _, value in buckets[name] if (number := usable_number(value)) is not None]
            means[name] = sum(numbers) / len(numbers) if numbers else None
        return means

    async def mark(
        self, kind: MarkKind, version: str, previous: str, started_at: float, finished_at: float, *, deadline: float | None = None
    ) -> list[str]:
        """Post a deploy marker: a Datadog event and a DORA deployment. Never raises.

        `version` is what production runs after the action and `previous` what it ran before
        (for a rollback, `version` is the restored tag). The DORA id is derived from (service,
        environment, version, kind, started_at), so a retried POST is counted once.
        Returns warnings for the captain (empty when both were accepted).
        """
        if kind not in ("deploy", "rollback"):
            return [f"Datadog marker not posted: unknown kind {kind!r} (deploy or rollback)"]
        limit = self.timeout if deadline is None else deadline
        identifier = dora_id(self.service, self.environment, version, kind, started_at)
        deployment = Deployment(self.service, self.environment, kind, version, previous, started_at, finished_at, identifier)
        posts = ((f"Datadog event ({EVENTS_ENDPOINT})", post_event), (f"DORA deployment ({DORA_ENDPOINT})", post_dora))
        results = await asyncio.gather(*(self._bounded(post, deployment, limit) for _, post in posts))
        return [f"{what} not posted: {problem}; the release goes on without it" for (what, _), problem in zip(posts, results) if problem]

    async def mark_flag(
        self, flag: str, from_stage: str, to_stage: str, version: str, at: float, *, deadline: float | None = None
    ) -> list[str]:
        """Post a flag change marker (an event, no DORA deployment: nothing was deployed). Never raises.

        `version` is what production runs while the flag moves. Returns warnings (empty when accepted).
        """
        limit = self.timeout if deadline is None else deadline
        identifier = dora_id(self.service, self.environment, f"{flag}\x1f{from_stage}\x1f{to_stage}\x1f{version}", "flag", at)
        change = FlagChange(self.service, self.environment, flag, from_stage, to_stage, version, at, identifier)
        problem = await self._bounded(post_flag_event, change, limit)
        return [f"Datadog event ({EVENTS_ENDPOINT}) not posted: {problem}; the ramp goes on without it"] if problem else []

    async def check(self) -> list[tuple[bool, str, str]]:
        """`shipdeck doctor`: (ok, what, detail) rows; a check that could not run is not ok."""
        from .datadog_doctor import doctor_rows

        return await doctor_rows(self)

    def close(self) -> None:
        """Close the clients' connection pools (they are rebuilt if the provider is used again)."""
        with self._build_lock:
            for client in (self._query_client, self._intake):
                if client is not None:
                    client.close()
            self._query_client = self._intake = self._query_api = None

    # -- queries ---------------------------------------------------------------------------

    def _combine(self, series: Sequence[str]) -> CombinedQuery:
        key = tuple(series)
        combined = self._combined.get(key)
        if combined is None:
            unknown = [name for name in series if name not in self.series]
            if unknown:
                raise DatadogError(f"no Datadog query configured for {', '.join(unknown)}: add [metrics.series.{unknown[0]}] query = \"…\"")
            combined = self._combined[key] = combine(series, self.series)
        return combined

    async def _query(
        self, combined: CombinedQuery, start: float, end: float, interval: float, deadline: float | None
    ) -> dict[str, list[tuple[float, float | None]]]:
        loop = asyncio.get_running_loop()
        limit = self.timeout if deadline is None else float(deadline)
        give_up_at = loop.time() + limit
        # Built in a worker thread: the first build imports the client's models (a blocking import).
        request = await asyncio.to_thread(build_request, combined, start, end, interval)
        attempts, problem = 0, "no attempt fitted in the deadline"
        while (left := give_up_at - loop.time()) > 0.01:
            attempts += 1
            attempt = await asyncio.to_thread(self._call_blocking, lambda client: self._metrics_api(client).query_timeseries_data(request), min(self.timeout, left))
            budget = self._observe(attempt.headers)
            if attempt.kind == "ok":
                try:
                    return buckets_by_series(attempt.answer or {}, combined)
                except Unreadable as unreadable:
                    problem = f"an unreadable answer ({unreadable})"
            elif attempt.kind == "rate":
                wait = (budget.reset if budget is not None else 1.0) + 0.05
                if loop.time() + wait > give_up_at:
                    raise DatadogError(self._masked(
                        f"Datadog rate limit reached for {QUERY_ENDPOINT} at {self.host}"
                        f"{f' ({budget.limit} requests per {budget.period:g}s)' if budget and budget.period else ''}; it resets in "
                        f"{wait:.0f}s, after this poll's {limit:g}s deadline. shipdeck stretches its polls to fit the budget; "
                        "if this repeats, raise [metrics] interval or ask Datadog for a higher limit"), 429)
                log.debug("Datadog rate limit reached; waiting %.1fs for the reset", wait)
                await asyncio.sleep(wait)
                continue
            elif attempt.kind == "fatal":
                raise DatadogError(attempt.detail, attempt.status)
            else:
                problem = attempt.detail
            backoff = min(0.2 * 2 ** (attempts - 1), 2.0)
            if loop.time() + backoff >= give_up_at:
                break
            await asyncio.sleep(backoff)
        raise DatadogError(self._masked(
            f"Datadog gave no usable answer to {QUERY_ENDPOINT} at {self.host} within {limit:g}s ({attempts} attempt(s); "
            f"last: {problem}). That time counts as blind; check Datadog's status page and the network path, "
            "or raise [metrics] timeout"))

    def _observe(self, headers: Mapping[str, Any] | None) -> RateBudget | None:
        budget = read_budget(headers, time.monotonic())
        if budget is not None:
            self._budget = budget
            log.debug("Datadog query budget: %d of %d left, resets in %.0fs", budget.remaining, budget.limit, budget.reset)
        return budget

    def _metrics_api(self, client: Any) -> Any:
        if self._query_api is None or self._query_api.api_client is not client:
            from datadog_api_client.v2.api.metrics_api import MetricsApi

            self._query_api = MetricsApi(client)  # type: ignore[no-untyped-call]
        return self._query_api

    def _call_blocking(self, call: Any, timeout: float) -> _Attempt:
        """Run `call(client)` on the query client in this (worker) thread and classify the result."""
        from datadog_api_client.exceptions import ApiException, OpenApiException
        from urllib3.exceptions import HTTPError

        client = self._client(for_queries=True)
        with self._query_lock:
            client.configuration.request_timeout = timeout
            try:
                data, status, headers = call(client)
            except ApiException as error:
                return self._classify(error.status, error.headers, error.body)
            except (HTTPError, OSError) as error:
                return _Attempt("retry", detail=self._masked(f"no answer ({type(error).__name__}: {str(error)[:200]})"))
            except OpenApiException as error:
                return _Attempt("retry", detail=self._masked(f"an unreadable answer ({type(error).__name__}: {str(error)[:200]})"))
        answer = data.to_dict() if hasattr(data, "to_dict") else {}
        return _Attempt("ok", answer=answer, headers=headers, status=status)

    def _classify(self, status: int | None, headers: Mapping[str, Any] | None, body: Any) -> _Attempt:
        reason = _errors_text(body)
        if status == 429:
            return _Attempt("rate", headers=headers, status=status)
        if status is None or status == 408 or status >= 500:
            return _Attempt("retry", headers=headers, status=status, detail=self._masked(f"HTTP {status} {reason}".strip()))
        if status in (401, 403):
            detail = (
                f"Datadog refused {QUERY_ENDPOINT} at {self.host} ({status}): the API key in {self._api_key.name} or the "
                f"application key in {self._app_key.name} is wrong, or the application key lacks the timeseries_query "
                "permission. Run `shipdeck doctor`"
            )
        else:
            detail = f"Datadog rejected the metrics query ({status}: {reason or 'no reason given'}); check [metrics.series.*] query and formula"
        return _Attempt("fatal", headers=headers, status=status, detail=self._masked(detail))

    # -- markers ---------------------------------------------------------------------------

    async def _bounded(self, post: Any, marker: Deployment | FlagChange, limit: float) -> str:
        """Run a blocking post within `limit` seconds; '' when accepted, else what went wrong."""
        try:
            await asyncio.wait_for(asyncio.to_thread(post, self._client(for_queries=False), marker), timeout=limit)
        except asyncio.TimeoutError:
            return f"no answer from {self.host} within {limit:g}s"
        except Exception as error:  # noqa: BLE001 - a marker must never stop a release
            return self._masked(_failure_text(error))
        return ""

    # -- clients ---------------------------------------------------------------------------

    def _client(self, *, for_queries: bool) -> Any:
        """The query client (no retries, headers returned) or the intake client (client retries)."""
        with self._build_lock:
            existing = self._query_client if for_queries else self._intake
            if existing is None:
                existing = self._build_client(for_queries)
                if for_queries:
                    self._query_client = existing
                else:
                    self._intake = existing
            return existing

    def _build_client(self, for_queries: bool) -> Any:
        from datadog_api_client import ApiClient, Configuration

        options: dict[str, Any] = (
            # retry_policy=False: urllib3 itself retries nothing either; shipdeck owns the time.
            {"return_http_data_only": False, "retry_policy": False}
            if for_queries
            else {"retry_policy": bounded_client_retry(), "request_timeout": self.timeout}
        )
        configuration = Configuration(  # type: ignore[no-untyped-call]
            host=self.host,
            api_key=_MaskedKeys(apiKeyAuth=self._api_key.reveal(), appKeyAuth=self._app_key.reveal()),
            **options,
        )
        configuration.debug = False  # keeps the client's and urllib3's loggers at WARNING, http.client quiet
        return ApiClient(configuration)

    def _masked(self, text: str) -> str:
        return mask(text, (self._api_key, self._app_key))


def _errors_text(body: Any) -> str:
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        return "; ".join(str(item) for item in body["errors"])[:300]
    return str(body or "")[:200]


def _failure_text(error: BaseException) -> str:
    from datadog_api_client.exceptions import ApiException

    if isinstance(error, ApiException):
        return f"HTTP {error.status} {_errors_text(error.body)}".strip()
    return f"{type(error).__name__}: {str(error)[:200]}"
