"""The loopback Datadog fake's own contract, over plain HTTP (the provider tests use the real client)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest

from shipdeck.core.sandbox.datadog_fake import QUERY_PATH, VALIDATE_PATH, FakeDatadog, timeline
from shipdeck.core.sandbox.datadog_fake_series import QueryError, evaluate, parse_formula

KEYS = {"DD-API-KEY": "api-key", "DD-APPLICATION-KEY": "app-key"}
T0_MS = 1_700_000_000_000


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(api_key="api-key", app_key="app-key", production=timeline("v1", [(T0_MS / 1000 + 60, "v2")]), initial_tag="v1",
                     scenario="regression") as server:
        yield server


def call(fake: FakeDatadog, path: str, body: Any = None, headers: dict[str, str] = KEYS) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(fake.url + path, data=data, headers={"Content-Type": "application/json", **headers},
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def query(formulas: list[str], start_ms: int = T0_MS, end_ms: int = T0_MS + 120_000, interval_ms: int = 10_000) -> dict[str, Any]:
    return {"data": {"type": "timeseries_request", "attributes": {
        "from": start_ms, "to": end_ms, "interval": interval_ms,
        "queries": [{"data_source": "metrics", "name": "errors", "query": "sum:trace.http.request.errors{service:web}.as_count()"},
                    {"data_source": "metrics", "name": "hits", "query": "sum:trace.http.request.hits{service:web}.as_count()"}],
        "formulas": [{"formula": text} for text in formulas]}}}


def test_a_formula_is_evaluated_per_bucket_and_follows_production(fake: FakeDatadog) -> None:
    status, headers, answer = call(fake, QUERY_PATH, query(["100 * errors / hits", "hits"]))
    assert status == 200
    attributes = answer["data"]["attributes"]
    assert attributes["times"] == list(range(T0_MS, T0_MS + 120_000, 10_000))
    assert [s["query_index"] for s in attributes["series"]] == [0, 1]
    rates = attributes["values"][0]
    assert all(rate < 1.0 for rate in rates[:6]) and all(rate > 4.0 for rate in rates[6:])  # v2 from T0 + 60 s
    assert call(fake, QUERY_PATH, query(["100 * errors / hits", "hits"]))[2] == answer  # same window, same numbers


def test_formulas_are_parsed_never_evaluated_as_python() -> None:
    assert evaluate(parse_formula("100 * (a - b) / c - -2"), {"a": 5.0, "b": 1.0, "c": 8.0}) == 52.0
    assert evaluate(parse_formula("a / b"), {"a": 1.0, "b": 0.0}) is None
    assert evaluate(parse_formula("a + b"), {"a": 1.0, "b": None}) is None
    for text in ["__import__(os)", "a ** 2", "(a", "a +", "a; b"]:
        with pytest.raises(QueryError):
            parse_formula(text)


def test_bad_formulas_and_queries_are_400s(fake: FakeDatadog) -> None:
    assert call(fake, QUERY_PATH, query(["__import__(os)"]))[0] == 400
    status, _, answer = call(fake, QUERY_PATH, query(["errors / nothing"]))
    assert status == 400 and "nothing" in answer["errors"][0]


def test_keys_are_checked_per_endpoint(fake: FakeDatadog) -> None:
    assert call(fake, VALIDATE_PATH, headers={"DD-API-KEY": "api-key"})[0] == 200  # validate needs no application key
    assert call(fake, VALIDATE_PATH, headers={"DD-API-KEY": "nope"})[0] == 403
    assert call(fake, QUERY_PATH, query(["hits"]), headers={"DD-API-KEY": "api-key"})[0] == 403
    assert call(fake, QUERY_PATH, query(["hits"]), headers={**KEYS, "DD-APPLICATION-KEY": "nope"})[0] == 403
    assert fake.requests[f"POST {QUERY_PATH}"] == 2


def test_the_rate_limit_budget_counts_down_and_refuses_when_spent(fake: FakeDatadog) -> None:
    fake.set_rate_limit(2, 60)
    remaining = [call(fake, QUERY_PATH, query(["hits"]))[1]["X-RateLimit-Remaining"] for _ in range(2)]
    status, headers, _ = call(fake, QUERY_PATH, query(["hits"]))
    assert remaining == ["1", "0"]
    assert status == 429 and headers["X-RateLimit-Limit"] == "2" and headers["X-RateLimit-Period"] == "60"
    assert 0 < int(headers["X-RateLimit-Reset"]) <= 60


def test_injected_faults_answer_in_turn(fake: FakeDatadog) -> None:
    fake.inject("500", times=1, path=QUERY_PATH)
    fake.inject("empty", times=1, path=QUERY_PATH)
    assert call(fake, QUERY_PATH, query(["hits"]))[0] == 500
    assert call(fake, QUERY_PATH, query(["hits"]))[2]["data"]["attributes"]["series"] == []
    assert call(fake, QUERY_PATH, query(["hits"]))[2]["data"]["attributes"]["series"] != []
    with pytest.raises(ValueError, match="unknown fault"):
        fake.inject("teapot")
