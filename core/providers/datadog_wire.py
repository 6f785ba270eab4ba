"""Datadog on the wire: series definitions, the one combined query, answers and failures.

Pure helpers for `datadog.py`; nothing here imports `datadog_api_client` at module level
(the client is heavy and `shipdeck status` must start without it).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .base import ProviderError

QUERY_ENDPOINT = "POST /api/v2/query/timeseries"
EVENTS_ENDPOINT = "POST /api/v1/events"
DORA_ENDPOINT = "POST /api/v2/dora/deployment"
VALIDATE_ENDPOINT = "GET /api/v1/validate"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A query name inside a formula: an identifier not glued to a number (1e5) or a dot, and not a
# function call (`abs(errors)` names `errors`, not `abs`).
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_])(?!\s*\()")
_DORA_ID = re.compile(r"^[A-Za-z0-9\-_.:]{16,128}$")


class DatadogError(ProviderError):
    """Datadog failed; `status` is the HTTP status when there was one (403: keys or permission)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SeriesQuery:
    """One watched series: named Datadog metric queries combined by a formula.

    `SeriesQuery({"errors": "sum:…errors{…}.as_count()", "hits": "sum:…hits{…}.as_count()"},
    "100 * errors / hits")`; a single query is `SeriesQuery.single("p95:trace.http.request{…}")`.
    Raises ValueError when the formula names a query that is not there.
    """

    queries: Mapping[str, str]
    formula: str

    def __post_init__(self) -> None:
        if not self.queries:
            raise ValueError("a series needs at least one query")
        for name, text in self.queries.items():
            if not _NAME.match(name):
                raise ValueError(f"query name {name!r} is not a formula name (letters, digits and _, not starting with a digit)")
            if not str(text).strip():
                raise ValueError(f"query {name!r} is empty")
        if not self.formula.strip():
            raise ValueError("the formula is empty")
        unknown = sorted(set(_IDENTIFIER.findall(self.formula)) - set(self.queries))
        if unknown:
            raise ValueError(f"formula {self.formula!r} refers to {', '.join(unknown)}, which is not one of its queries ({', '.join(self.queries)})")

    @classmethod
    def single(cls, query: str) -> SeriesQuery:
        """A series that is one query, as `query = "…"` in the config."""
        return cls({"q": query}, "q")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SeriesQuery:
        """From a `[metrics.series.NAME]` table: `query`, or `queries` with `formula`.

        Raises ValueError naming the key at fault (the config loader adds file and line).
        """
        query, queries, formula = settings.get("query"), settings.get("queries"), settings.get("formula")
        if query is not None and queries is not None:
            raise ValueError("give either `query` or `queries` with `formula`, not both")
        if query is not None:
            if not isinstance(query, str) or formula is not None:
                raise ValueError("`query` is one string; `formula` goes with `queries`")
            return cls.single(query)
        if not isinstance(queries, Mapping) or not all(isinstance(v, str) for v in queries.values()):
            raise ValueError("`queries` must be a table of name = \"datadog query\"; or give a single `query`")
        if not isinstance(formula, str):
            raise ValueError("`formula` is missing: say how the queries combine, e.g. \"100 * errors / hits\"")
        return cls(dict(queries), formula)

    def describe(self) -> str:
        """The query text for evidence: the query itself, or the formula and its queries."""
        if self.formula.strip() in self.queries and len(self.queries) == 1:
            return str(self.queries[self.formula.strip()])
        parts = "; ".join(f"{name} = {text}" for name, text in self.queries.items())
        return f"{self.formula} where {parts}"


@dataclass(frozen=True)
class RateBudget:
    """Datadog's rate-limit budget as last seen: `remaining` of `limit` per `period` seconds.

    `reset` is the seconds until the window resets, counted from `observed_at` (time.monotonic()).
    """

    remaining: int
    limit: int
    reset: float
    period: float | None
    observed_at: float

    def reset_in(self, now: float) -> float:
        """Seconds until the budget resets, at monotonic time `now`."""
        return max(0.0, self.reset - (now - self.observed_at))

    @property
    def low(self) -> bool:
        """Worth showing the captain: a tenth of the budget or less is left."""
        return self.remaining <= max(2, self.limit // 10)


def read_budget(headers: Mapping[str, Any] | None, observed_at: float) -> RateBudget | None:
    """The budget from X-RateLimit-* headers (any case), or None when they are absent or odd."""
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}

    def number(name: str) -> float | None:
        try:
            value = float(lowered[f"x-ratelimit-{name}"])
        except (KeyError, TypeError, ValueError):
            return None
        return value if math.isfinite(value) and value >= 0 else None

    remaining, limit, reset = number("remaining"), number("limit"), number("reset")
    if remaining is None or limit is None or reset is None:
        return None
    return RateBudget(int(remaining), int(limit), reset, number("period"), observed_at)


@dataclass(frozen=True)
class CombinedQuery:
    """Every series' queries renamed apart (`s0_errors`) and one formula per series, in order."""

    queries: tuple[tuple[str, str], ...]
    formulas: tuple[str, ...]
    series: tuple[str, ...]


def combine(series: Sequence[str], definitions: Mapping[str, SeriesQuery]) -> CombinedQuery:
    """One request's worth of queries for `series` (names must be in `definitions`)."""
    queries: list[tuple[str, str]] = []
    formulas: list[str] = []
    for index, name in enumerate(series):
        definition = definitions[name]
        prefix = f"s{index}_"
        queries += [(prefix + query_name, text) for query_name, text in definition.queries.items()]
        formulas.append(
            _IDENTIFIER.sub(lambda m: prefix + m.group(1) if m.group(1) in definition.queries else m.group(1), definition.formula)
        )
    return CombinedQuery(tuple(queries), tuple(formulas), tuple(series))


def build_request(combined: CombinedQuery, start: float, end: float, interval: float) -> Any:
    """The TimeseriesFormulaQueryRequest for [start, end) in seconds, `interval` seconds per bucket."""
    from datadog_api_client.v2.model.timeseries_formula_query_request import TimeseriesFormulaQueryRequest
    from datadog_api_client.v2.model.timeseries_formula_request import TimeseriesFormulaRequest
    from datadog_api_client.v2.model.timeseries_formula_request_attributes import TimeseriesFormulaRequestAttributes
    from datadog_api_client.v2.model.timeseries_formula_request_type import TimeseriesFormulaRequestType

    queries, formulas = _request_parts(combined)
    return TimeseriesFormulaQueryRequest(
        data=TimeseriesFormulaRequest(
            type=TimeseriesFormulaRequestType.TIMESERIES_REQUEST,
            attributes=TimeseriesFormulaRequestAttributes(
                _from=int(start * 1000), to=int(end * 1000), interval=max(1, int(interval * 1000)), queries=queries, formulas=formulas
            ),
        )
    )


@functools.lru_cache(maxsize=32)
def _request_parts(combined: CombinedQuery) -> tuple[Any, list[Any]]:
    # The client type-checks every model it builds; only the window changes from poll to poll,
    # so the queries and formulas are built once (about half the CPU of a poll).
    from datadog_api_client.v2.model.metrics_data_source import MetricsDataSource
    from datadog_api_client.v2.model.metrics_timeseries_query import MetricsTimeseriesQuery
    from datadog_api_client.v2.model.query_formula import QueryFormula
    from datadog_api_client.v2.model.timeseries_formula_request_queries import TimeseriesFormulaRequestQueries

    queries = TimeseriesFormulaRequestQueries(  # type: ignore[no-untyped-call]
        [MetricsTimeseriesQuery(data_source=MetricsDataSource.METRICS, name=name, query=text) for name, text in combined.queries]
    )
    return queries, [QueryFormula(formula=formula) for formula in combined.formulas]


class Unreadable(ValueError):
    """A 200 answer without the shape of a timeseries response (retried, never taken as data)."""


def buckets_by_series(answer: Mapping[str, Any], combined: CombinedQuery) -> dict[str, list[tuple[float, float | None]]]:
    """Each series' buckets as (seconds, value): None is no data (JSON null); NaN and infinities
    are kept as they came, so the caller can tell a broken feed from a quiet one.

    A formula Datadog left out (no data) gets no buckets. Where a query groups into several
    series, a bucket takes the highest value (a non-finite one wins): every shipdeck threshold
    is an upper bound, so the worst group is the one to judge.
    """
    data = answer.get("data")
    if not isinstance(data, Mapping):
        errors = answer.get("errors")
        raise Unreadable(f"no data in the answer{f' (errors: {str(errors)[:200]})' if errors else ''}")
    attributes = data.get("attributes")
    if not isinstance(attributes, Mapping):
        raise Unreadable("no attributes in the answer")
    entries, times, values = attributes.get("series") or [], attributes.get("times") or [], attributes.get("values") or []
    if not isinstance(entries, list) or not isinstance(times, list) or not isinstance(values, list) or len(values) != len(entries):
        raise Unreadable("series, times and values do not line up")
    result: dict[str, list[tuple[float, float | None]]] = {name: [] for name in combined.series}
    merged: dict[int, list[float | None]] = {}
    for entry, row in zip(entries, values):
        index = entry.get("query_index") if isinstance(entry, Mapping) else None
        if not isinstance(index, int) or not 0 <= index < len(combined.series) or not isinstance(row, list) or len(row) != len(times):
            raise Unreadable("a series does not match the request")
        current = merged.setdefault(index, [None] * len(times))
        for position, value in enumerate(row):
            current[position] = _worst(current[position], _number(value))
    for index, row in merged.items():
        result[combined.series[index]] = [(float(at) / 1000.0, value) for at, value in zip(times, row)]
    return result


def usable_number(value: float | None) -> float | None:
    """A finite number, or None (no data, NaN, infinity)."""
    return value if value is not None and math.isfinite(value) else None


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan  # not a number at all: garbage, never "no data"
    return float(value)


def _worst(held: float | None, new: float | None) -> float | None:
    if held is None:
        return new
    if new is None:
        return held
    if not math.isfinite(held) or not math.isfinite(new):
        return math.nan
    return max(held, new)


def dora_id(service: str, environment: str, version: str, kind: str, started_at: float) -> str:
    """A deployment id stable across retries: same release action, same id (16–128 of [A-Za-z0-9-_.:])."""
    digest = hashlib.sha256(f"{service}\x1f{environment}\x1f{version}\x1f{kind}\x1f{started_at:.3f}".encode()).hexdigest()
    identifier = f"shipdeck-{kind}-{digest[:40]}"
    assert _DORA_ID.match(identifier), identifier
    return identifier
