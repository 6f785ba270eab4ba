"""The Datadog provider: the real datadog-api-client against the loopback fake on 127.0.0.1.

Every test starts its own fake (core/sandbox/datadog_fake.py) and stops it. Times are fixed
epoch seconds so bucket values are deterministic; the fake's production view decides what
production ran when.
"""

from __future__ import annotations

import asyncio
import logging
import math
import subprocess
import sys
import time
from typing import Any, Iterator

import pytest

from shipdeck.core.providers.base import MetricPoint, ProviderError
from shipdeck.core.providers.datadog import DatadogError, DatadogMetrics, SeriesQuery
from shipdeck.core.sandbox.datadog_fake import DORA_PATH, EVENTS_PATH, QUERY_PATH, FakeDatadog, timeline
from shipdeck.core.secrets import Secret
from shipdeck.core.watching import usable

API_KEY = "canary-api-3f9e2d7c1b5a4e60"
APP_KEY = "canary-app-8d1c6b0a9f2e7d34"
QUERY = f"POST {QUERY_PATH}"
T0 = 1_700_000_000.0  # a multiple of the 10 s bucket
DEPLOY_AT = T0 + 600
THREE = {
    "error_rate": SeriesQuery(
        {"errors": "sum:trace.http.request.errors{service:web,env:production}.as_count()",
         "hits": "sum:trace.http.request.hits{service:web,env:production}.as_count()"},
        "100 * errors / hits",
    ),
    "p95_latency": SeriesQuery.single("p95:trace.http.request{service:web,env:production}"),
    "queue_depth": SeriesQuery.single("avg:celery.queue.depth{service:web}"),
}
TWELVE = {**THREE, **{f"p95_shard_{n}": SeriesQuery.single(f"p95:trace.http.request{{service:web,shard:{n}}}") for n in range(9)}}


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    server = FakeDatadog(
        api_key=API_KEY, app_key=APP_KEY, production=timeline("v1.3.0", [(DEPLOY_AT, "v1.4.0")]), initial_tag="v1.3.0", scenario="regression"
    )
    server.start()
    yield server
    server.stop()


def provider(fake: FakeDatadog, series: dict[str, SeriesQuery] = THREE, *, api_key: str = API_KEY, app_key: str = APP_KEY, **options: Any) -> DatadogMetrics:
    settings: dict[str, Any] = {"timeout": 2.0, "interval": 10.0, **options}
    return DatadogMetrics(
        url=fake.url, api_key=Secret("DD_API_KEY", api_key), app_key=Secret("DD_APP_KEY", app_key),
        series=series, service="web", environment="production", **settings,
    )


def values(points: list[MetricPoint]) -> dict[str, float | None]:
    return {point.series: point.value for point in points}


# -- one request per poll ------------------------------------------------------------------


@pytest.mark.parametrize("series", [THREE, TWELVE], ids=["3 series", "12 series"])
def test_one_request_per_poll_whatever_the_number_of_series(fake: FakeDatadog, series: dict[str, SeriesQuery]) -> None:
    datadog = provider(fake, series)

    async def three_polls() -> list[list[MetricPoint]]:
        return [await datadog.latest(list(series), T0 + 100 + 10 * poll) for poll in range(3)]

    polls = asyncio.run(three_polls())

    assert fake.requests[QUERY] == len(fake.query_bodies) == 3
    assert all(len(body["data"]["attributes"]["formulas"]) == len(series) for body in fake.query_bodies)
    for points in polls:
        assert [p.series for p in points] == list(series)
        assert all(p.value is not None for p in points)
    first = values(polls[0])
    assert 0.2 < first["error_rate"] < 1.0  # 100 * errors / hits, evaluated by Datadog (the fake)
    assert 200 < first["p95_latency"] < 450


def test_each_series_keeps_its_own_query_names_in_the_combined_request(fake: FakeDatadog) -> None:
    # Both series call their query "q": renamed apart, each formula reads its own.
    series = {"latency": SeriesQuery.single("p95:trace.http.request{service:web}"), "queue": SeriesQuery.single("avg:celery.queue.depth{service:web}")}
    points = values(asyncio.run(provider(fake, series).latest(list(series), T0 + 100)))
    assert 200 < points["latency"] < 450 and 0 < points["queue"] < 60
    queries = fake.query_bodies[0]["data"]["attributes"]["queries"]
    assert len({q["name"] for q in queries}) == len(queries) == 2


def test_values_follow_production_and_repeat_for_the_same_window(fake: FakeDatadog) -> None:
    datadog = provider(fake)
    before = asyncio.run(datadog.latest(list(THREE), DEPLOY_AT - 30))
    after = asyncio.run(datadog.latest(list(THREE), DEPLOY_AT + 60))
    again = asyncio.run(datadog.latest(list(THREE), DEPLOY_AT + 60))
    assert values(before)["error_rate"] < 1.0 and values(before)["p95_latency"] < 500
    assert values(after)["error_rate"] > 5.0 and values(after)["p95_latency"] > 2000
    assert after == again
    assert all(point.at <= DEPLOY_AT + 60 for point in after)


# -- rate limits ---------------------------------------------------------------------------


def test_a_429_with_reset_headers_is_waited_out_and_the_budget_exposed(fake: FakeDatadog) -> None:
    datadog = provider(fake)
    asyncio.run(datadog.latest(list(THREE), T0 + 90))  # warm: the client is built and imported
    fake.set_rate_limit(50, 60)
    fake.inject("429", times=1, path=QUERY_PATH, reset=1)
    started = time.monotonic()
    points = asyncio.run(datadog.latest(list(THREE), T0 + 100, deadline=5.0))
    waited = time.monotonic() - started

    assert all(p.value is not None for p in points)
    assert fake.requests[QUERY] == 1 + 2
    assert 1.0 <= waited < 3.0
    budget = datadog.budget
    assert budget is not None and budget.limit == 50 and budget.remaining == 49 and not budget.low
    assert datadog.next_poll_in(10.0) == 10.0  # plenty left: no stretching


def test_the_poll_stretches_as_the_budget_runs_low_and_a_spent_budget_waits_for_its_reset(fake: FakeDatadog) -> None:
    datadog = provider(fake)
    asyncio.run(datadog.latest(list(THREE), T0 + 90))  # warm, so the polls below fit in one window
    fake.set_rate_limit(3, 3)

    async def polls() -> list[float]:
        stretched = []
        for poll in range(2):
            await datadog.latest(list(THREE), T0 + 100 + poll)
            stretched.append(datadog.next_poll_in(0.1))
        return stretched

    stretched = asyncio.run(polls())
    assert datadog.budget is not None and datadog.budget.remaining == 1 and datadog.budget.low
    assert stretched[1] > 0.1  # one request left for the rest of the window: wait for most of it
    # The third poll is allowed, the fourth is refused by the real budget and waited out.
    asyncio.run(datadog.latest(list(THREE), T0 + 103))
    started = time.monotonic()
    points = asyncio.run(datadog.latest(list(THREE), T0 + 104, deadline=5.0))
    assert all(p.value is not None for p in points)
    assert time.monotonic() - started > 0.05 and fake.requests[QUERY] == 1 + 5


def test_a_429_resetting_after_the_deadline_gives_no_value_and_says_when(fake: FakeDatadog) -> None:
    fake.inject("429", times=1, path=QUERY_PATH, reset=30)
    datadog = provider(fake)
    started = time.monotonic()
    with pytest.raises(DatadogError) as raised:
        asyncio.run(datadog.latest(list(THREE), T0 + 100, deadline=1.0))
    assert time.monotonic() - started < 1.0  # no pointless sleep: the reset is known to be too late
    assert raised.value.status == 429 and "rate limit" in str(raised.value) and "resets in 30s" in str(raised.value)
    assert datadog.budget is not None and datadog.budget.remaining == 0
    assert datadog.next_poll_in(10.0) > 25.0


# -- faults never produce a value -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "slow", "malformed"])
def test_a_lasting_fault_is_an_error_within_the_deadline_never_a_value(fake: FakeDatadog, fault: str) -> None:
    fake.inject(fault, times=1000, path=QUERY_PATH, delay=5.0)
    datadog = provider(fake, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DatadogError) as raised:
        asyncio.run(datadog.latest(list(THREE), T0 + 100, deadline=1.5))
    assert time.monotonic() - started < 2.5
    message = str(raised.value)
    assert "Datadog" in message and "/api/v2/query/timeseries" in message and "blind" in message
    assert fake.requests[QUERY] >= 2 if fault != "slow" else fake.requests[QUERY] >= 1


@pytest.mark.parametrize("fault", ["500", "slow", "malformed"])
def test_a_passing_fault_is_retried_within_the_deadline(fake: FakeDatadog, fault: str) -> None:
    fake.inject(fault, times=1, path=QUERY_PATH, delay=3.0)
    points = asyncio.run(provider(fake, timeout=0.5).latest(list(THREE), T0 + 100, deadline=3.0))
    assert all(p.value is not None for p in points)
    assert fake.requests[QUERY] == 2


def test_an_empty_answer_is_no_data(fake: FakeDatadog) -> None:
    fake.inject("empty", times=1, path=QUERY_PATH)
    points = asyncio.run(provider(fake).latest(list(THREE), T0 + 100))
    assert [p.value for p in points] == [None, None, None]
    assert all(p.at == T0 + 100 for p in points)


def test_garbage_and_blind_series_never_give_a_usable_number(fake: FakeDatadog) -> None:
    fake.scenarios = {"trace.http.request": "garbage", "celery.queue.depth": "blind"}
    fake.scenario = "healthy"
    datadog = provider(fake, lookback=30.0)
    just_after = {p.series: p for p in asyncio.run(datadog.latest(list(THREE), DEPLOY_AT + 15))}
    assert just_after["queue_depth"].at < DEPLOY_AT  # silent since the deploy: the value says how old it is
    for now in (DEPLOY_AT + 40, DEPLOY_AT + 50, DEPLOY_AT + 60):
        points = values(asyncio.run(datadog.latest(list(THREE), now)))
        assert usable(points["p95_latency"]) is None
        assert points["p95_latency"] is None or math.isfinite(points["p95_latency"])  # NaN and inf never leave the provider
        assert points["queue_depth"] is None  # silent for longer than the lookback
        assert points["error_rate"] is not None and points["error_rate"] < 1.0
    history = asyncio.run(datadog.history(["p95_latency"], DEPLOY_AT, DEPLOY_AT + 60, 10.0))
    assert len(history) == 6 and all(usable(p.value) is None for p in history)


def test_an_unknown_series_or_a_rejected_query_is_a_clear_error(fake: FakeDatadog) -> None:
    with pytest.raises(DatadogError, match=r"no Datadog query configured for nope"):
        asyncio.run(provider(fake).latest(["nope"], T0))
    broken = {"error_rate": SeriesQuery.single("this is not a query")}
    with pytest.raises(DatadogError, match=r"rejected the metrics query \(400: Error parsing query"):
        asyncio.run(provider(fake, broken).latest(["error_rate"], T0))
    assert fake.requests[QUERY] == 1  # a 400 is not retried


# -- backfill and baseline -----------------------------------------------------------------


def test_history_returns_every_bucket_of_a_gap_as_latest_saw_them(fake: FakeDatadog) -> None:
    datadog = provider(fake)
    polls = [T0 + 575 + 10 * n for n in range(6)]  # across the deploy at T0 + 600
    seen = [point for now in polls for point in asyncio.run(datadog.latest(list(THREE), now))]
    requests_before = fake.requests[QUERY]

    backfilled = asyncio.run(datadog.history(list(THREE), T0 + 560, T0 + 630, 10.0))

    assert fake.requests[QUERY] == requests_before + 1
    by_key = {(p.series, p.at): p.value for p in backfilled}
    assert len(backfilled) == 3 * 7
    assert {(p.series, p.at): p.value for p in seen}.items() <= by_key.items()
    assert by_key[("error_rate", T0 + 590)] < 1.0 < 5.0 < by_key[("error_rate", T0 + 600)]


def test_baseline_is_the_mean_before_the_deploy(fake: FakeDatadog) -> None:
    means = asyncio.run(provider(fake).baseline(list(THREE), DEPLOY_AT - 3600, DEPLOY_AT))
    assert 0.35 < means["error_rate"] < 0.55
    assert 280 < means["p95_latency"] < 340
    assert fake.requests[QUERY] == 1


# -- markers -------------------------------------------------------------------------------


def test_a_retried_dora_post_keeps_its_id_so_it_counts_once(fake: FakeDatadog) -> None:
    fake.inject("500", times=1, path=DORA_PATH)
    datadog = provider(fake)
    warnings = asyncio.run(datadog.mark("deploy", "v1.4.0", "v1.3.0", DEPLOY_AT - 40, DEPLOY_AT))
    assert warnings == []
    assert len(fake.dora_requests) == 2 and len(fake.dora_ids) == 1
    (identifier,) = fake.dora_ids
    assert 16 <= len(identifier) <= 128
    attributes = fake.dora_requests[0]["data"]["attributes"]
    assert (attributes["service"], attributes["env"], attributes["version"]) == ("web", "production", "v1.4.0")
    assert attributes["started_at"] < attributes["finished_at"]
    # A resumed runner marking the same deploy again: still one deployment for Datadog.
    asyncio.run(provider(fake).mark("deploy", "v1.4.0", "v1.3.0", DEPLOY_AT - 40, DEPLOY_AT))
    assert len(fake.dora_requests) == 3 and fake.dora_ids == {identifier}
    (event, *_) = fake.events
    assert {"service:web", "env:production", "version:v1.4.0"} <= set(event["tags"])
    # The rollback is another deployment.
    asyncio.run(datadog.mark("rollback", "v1.3.0", "v1.4.0", DEPLOY_AT + 200, DEPLOY_AT + 230))
    assert len(fake.dora_ids) == 2 and "Rolled back" in fake.events[-1]["title"]


def test_marking_never_raises_and_reports_what_failed(fake: FakeDatadog) -> None:
    refused = asyncio.run(provider(fake, api_key="wrong-key-canary-1234").mark("deploy", "v1.4.0", "v1.3.0", T0, T0 + 30))
    assert len(refused) == 2 and all("403" in warning and "goes on" in warning for warning in refused)
    url = fake.url
    fake.stop()
    gone = DatadogMetrics(url=url, api_key=Secret("DD_API_KEY", API_KEY), app_key=Secret("DD_APP_KEY", APP_KEY),
                          series=THREE, service="web", environment="production", timeout=0.5)
    warnings = asyncio.run(gone.mark("rollback", "v1.3.0", "v1.4.0", T0, T0 + 30, deadline=3.0))
    assert len(warnings) == 2 and all("not posted" in warning for warning in warnings)


# -- doctor --------------------------------------------------------------------------------


def test_check_reports_keys_reachability_and_permission(fake: FakeDatadog) -> None:
    rows = asyncio.run(provider(fake).check())
    assert [ok for ok, _, _ in rows] == [True, True, True, True], rows

    bad_api = asyncio.run(provider(fake, api_key="not-the-api-key-0000").check())
    assert bad_api[1][0] is False and "DD_API_KEY" in bad_api[1][2]

    bad_app = asyncio.run(provider(fake, app_key="not-the-app-key-0000").check())
    assert [ok for ok, _, _ in bad_app] == [True, True, False]
    assert "timeseries_query" in bad_app[2][2] and "DD_APP_KEY" in bad_app[2][2]

    fake.scenario, fake.initial_tag = "blind", "v0"  # production runs "another" tag: no data at all
    silent = asyncio.run(provider(fake).check())
    assert silent[-1][0] is False and "error_rate" in silent[-1][2]

    url = fake.url
    fake.stop()
    gone = DatadogMetrics(url=url, api_key=Secret("DD_API_KEY", API_KEY), app_key=Secret("DD_APP_KEY", APP_KEY),
                          series=THREE, service="web", environment="production", timeout=0.5)
    unreachable = asyncio.run(gone.check())
    assert [ok for ok, _, _ in unreachable] == [False, False, False]
    assert "not checked" in unreachable[1][2]


# -- secrets -------------------------------------------------------------------------------


def test_no_key_in_any_error_log_record_output_or_repr(fake: FakeDatadog, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    datadog = provider(fake, timeout=0.5)
    wrong = provider(fake, api_key="canary-wrong-api-5e4d3c2b1a", app_key="canary-wrong-app-9f8e7d6c5b", timeout=0.5)
    texts: list[str] = []
    # Build every client first (building one sets the client's loggers back to WARNING), then
    # open every logger wide: even at DEBUG nothing may carry a key.
    asyncio.run(datadog.latest(list(THREE), T0 + 100))
    asyncio.run(datadog.mark("deploy", "v1.4.0", "v1.3.0", T0, T0 + 30))
    texts += asyncio.run(wrong.mark("deploy", "v1.4.0", "v1.3.0", T0, T0 + 30))
    texts += [f"{ok} {what} {detail}" for ok, what, detail in asyncio.run(wrong.check())]
    for name in ("", "urllib3", "datadog_api_client", "shipdeck"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    texts += [repr(datadog), str(datadog), repr(wrong)]

    def failure(call: Any) -> None:
        try:
            asyncio.run(call)
        except ProviderError as error:
            texts.append(str(error))
            texts.append(repr(error))

    failure(wrong.latest(list(THREE), T0 + 100))
    texts += asyncio.run(wrong.mark("deploy", "v1.4.0", "v1.3.0", T0, T0 + 30))
    fake.inject("500", times=1000, path=QUERY_PATH)
    failure(datadog.latest(list(THREE), T0 + 100, deadline=0.8))
    fake.clear_faults()
    fake.inject("malformed", times=1000, path=QUERY_PATH)
    failure(datadog.history(list(THREE), T0, T0 + 100, 10.0, deadline=0.8))
    fake.clear_faults()
    fake.inject("429", times=1, path=QUERY_PATH, reset=60)
    failure(datadog.baseline(list(THREE), T0, T0 + 100, deadline=0.5))
    texts += [f"{ok} {what} {detail}" for ok, what, detail in asyncio.run(wrong.check())]
    asyncio.run(datadog.latest(list(THREE), T0 + 100))

    out, err = capfd.readouterr()
    captured = "\n".join(texts) + caplog.text + out + err
    assert any(record.name.startswith("urllib3") for record in caplog.records)  # the capture is live
    assert len(texts) > 10
    for canary in (API_KEY, APP_KEY, "canary-wrong-api-5e4d3c2b1a", "canary-wrong-app-9f8e7d6c5b"):
        assert canary not in captured


def test_importing_the_provider_does_not_import_the_client() -> None:
    code = "import sys, shipdeck.core.providers.datadog as d; print('datadog_api_client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# -- series definitions --------------------------------------------------------------------


def test_series_definitions_from_settings_and_their_errors() -> None:
    ratio = SeriesQuery.from_settings({"queries": {"errors": "sum:a{*}", "hits": "sum:b{*}"}, "formula": "100 * errors / hits"})
    assert ratio.describe() == "100 * errors / hits where errors = sum:a{*}; hits = sum:b{*}"
    assert SeriesQuery.from_settings({"query": "p95:c{*}"}).describe() == "p95:c{*}"
    assert SeriesQuery({"a": "x{*}"}, "abs(a) * 1e3").formula == "abs(a) * 1e3"  # a function and an exponent are no names
    for settings, complaint in [
        ({"query": "p95:c{*}", "queries": {"a": "x{*}"}}, "not both"),
        ({"queries": {"errors": "sum:a{*}"}}, "`formula` is missing"),
        ({"queries": {"errors": "sum:a{*}"}, "formula": "errors / hit"}, "refers to hit"),
        ({"queries": {"1x": "sum:a{*}"}, "formula": "1"}, "not a formula name"),
        ({"queries": "sum:a{*}", "formula": "a"}, "must be a table"),
    ]:
        with pytest.raises(ValueError, match=complaint):
            SeriesQuery.from_settings(settings)
    datadog = DatadogMetrics(url=None, site="datadoghq.eu", api_key=Secret("DD_API_KEY", API_KEY), app_key=Secret("DD_APP_KEY", APP_KEY),
                             series={"error_rate": ratio}, service="web", environment="production")
    assert datadog.host == "https://api.datadoghq.eu"
    assert "errors = sum:a{*}" in datadog.describe_query("error_rate")
