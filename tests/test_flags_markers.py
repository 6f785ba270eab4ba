"""A Datadog change event per ramp stage: the real datadog-api-client against the loopback fake.

The ramp runs on the real runner and journal (LaunchDarkly backend over HTTP to its loopback
fake); the metrics source reads its error rate from the flag's share and posts its flag markers
with a real `DatadogMetrics` to `core/sandbox/datadog_fake.py`, which records every event.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from ramp_support import FLAG, Crash, ramp_config, ramp_plan, run_ramp, start
from test_flags_ramp import TOKEN, FlagAwareMetrics

from fakes.launchdarkly_fake import FakeLaunchDarkly
from shipdeck.core.events import EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase
from shipdeck.core.providers.base import MetricPoint
from shipdeck.core.providers.datadog import DatadogMetrics, SeriesQuery
from shipdeck.core.providers.launchdarkly import LaunchDarklyFlags
from shipdeck.core.sandbox.datadog_fake import FakeDatadog, timeline
from shipdeck.core.secrets import Secret

API_KEY = "canary-api-5b1e7c2d9a0f4e83"
APP_KEY = "canary-app-1f4a8c3e7d2b6a90"


class FlagMetrics:
    """Values as the flag's users cause them; flag markers posted to Datadog for real."""

    def __init__(self, values: FlagAwareMetrics, datadog: DatadogMetrics) -> None:
        self.values, self.datadog = values, datadog

    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        return await self.values.latest(series, now)

    async def mark_flag(self, flag: str, from_stage: str, to_stage: str, version: str, at: float) -> list[str]:
        return await self.datadog.mark_flag(flag, from_stage, to_stage, version, at)


@pytest.fixture
def flags() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag(FLAG)
        yield server


@pytest.fixture
def datadog() -> Iterator[FakeDatadog]:
    server = FakeDatadog(api_key=API_KEY, app_key=APP_KEY, production=timeline("v1.4.0", []), initial_tag="v1.4.0")
    server.start()
    yield server
    server.stop()


def _run(path: Path, flags: FakeLaunchDarkly, datadog: FakeDatadog, *, api_key: str = API_KEY, bad_from: int | None = None, **options: Any) -> Any:
    config = ramp_config(path.parent, {"provider": "launchdarkly", "url": flags.url}, "1m")
    provider = DatadogMetrics(
        url=datadog.url, api_key=Secret("DD_API_KEY", api_key), app_key=Secret("DD_APP_KEY", APP_KEY),
        series={"error_rate": SeriesQuery.single("avg:errors{service:web}")}, service="web", environment="production", timeout=2.0,
    )

    def backend() -> LaunchDarklyFlags:
        return LaunchDarklyFlags(url=flags.url, token=Secret("LD_API_TOKEN", TOKEN), project="default", environment="production")

    return run_ramp(
        path, config, backend, metrics=FlagMetrics(FlagAwareMetrics(flags, bad_from), provider),
        first_events=lambda j: start(j, config, ramp_plan(config)), **options,
    )


def _flag_events(datadog: FakeDatadog) -> list[dict[str, Any]]:
    return [e for e in datadog.events if "shipdeck_kind:flag" in e.get("tags", [])]


def test_each_stage_posts_one_flag_change_event_and_no_deployment(tmp_path: Path, flags: FakeLaunchDarkly, datadog: FakeDatadog) -> None:
    state, _ = _run(tmp_path / "j.jsonl", flags, datadog)
    assert phase_of(state) is Phase.DONE
    events = _flag_events(datadog)
    assert [e["title"] for e in events] == [
        f"Flag {FLAG}: off -> team on production", f"Flag {FLAG}: team -> 10% on production", f"Flag {FLAG}: 10% -> 100% on production",
    ]
    assert all({f"flag:{FLAG}", "version:v1.4.0", "service:web", "env:production"} <= set(e["tags"]) for e in events)
    assert [t for e in events for t in e["tags"] if t.startswith("flag_stage:")] == ["flag_stage:team", "flag_stage:10%", "flag_stage:100%"]
    assert len({e["aggregation_key"] for e in events}) == 3
    assert datadog.dora_requests == []  # a flag change deploys nothing


def test_a_breach_marks_the_move_back_too(tmp_path: Path, flags: FakeLaunchDarkly, datadog: FakeDatadog) -> None:
    _run(tmp_path / "j.jsonl", flags, datadog, bad_from=10)
    assert [e["title"] for e in _flag_events(datadog)][-1] == f"Flag {FLAG}: 10% -> team on production"
    assert len(_flag_events(datadog)) == 3


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4, 5, 6])
def test_a_crash_around_a_marker_posts_it_once_per_stage(tmp_path: Path, flags: FakeLaunchDarkly, datadog: FakeDatadog, crash_after: int) -> None:
    """Crashing after each line of the first stage (move, flag_changed, marker): one id per stage, none lost."""
    path = tmp_path / "j.jsonl"
    with pytest.raises(Crash):
        _run(path, flags, datadog, crash_after=crash_after)
    state, _ = _run(path, flags, datadog)
    assert phase_of(state) is Phase.DONE
    events = _flag_events(datadog)
    assert len({e["aggregation_key"] for e in events}) == 3, [e["title"] for e in events]
    # Only a crash between the marker's intent and its outcome may post it again, under the same id.
    assert len(events) <= 4
    assert [e["title"].split(": ")[1] for e in {e["aggregation_key"]: e for e in events}.values()] == [
        "off -> team on production", "team -> 10% on production", "10% -> 100% on production",
    ]


def test_a_marker_datadog_refuses_is_a_note_and_the_ramp_goes_on(tmp_path: Path, flags: FakeLaunchDarkly, datadog: FakeDatadog) -> None:
    state, _ = _run(tmp_path / "j.jsonl", flags, datadog, api_key="wrong-key-canary-0000")
    assert phase_of(state) is Phase.DONE
    journal = Journal(tmp_path / "j.jsonl")
    events = journal.load()
    journal.close()
    notes = [str(e.data["message"]) for e in events if e.kind is EventKind.NOTE and "flag marker" in str(e.data.get("message"))]
    assert len(notes) == 3 and "not posted" in notes[0] and "wrong-key-canary-0000" not in notes[0]
    assert sum(1 for e in events if e.kind is EventKind.INTENT and e.data.get("action") == "mark") == 3


def test_mark_flag_never_raises_when_datadog_is_gone() -> None:
    gone = DatadogMetrics(url="http://127.0.0.1:9", api_key=Secret("DD_API_KEY", API_KEY), app_key=Secret("DD_APP_KEY", APP_KEY),
                          series={}, service="web", environment="production", timeout=1.0)
    warnings = asyncio.run(gone.mark_flag(FLAG, "team", "10%", "v1.4.0", 1_800_000_000.0, deadline=3.0))
    assert len(warnings) == 1 and "not posted" in warnings[0] and "ramp goes on" in warnings[0]
