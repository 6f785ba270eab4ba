"""The watch judges only what it observed: gaps are blind, a resumed watch runs on, and a
breach still building when the window ends keeps the watch open (issue 14, section 1)."""

from __future__ import annotations

import math

import pytest
from engine_events import Script

from shipdeck.core.decisions import Policy, RequestRollback, next_actions
from shipdeck.core.events import EventKind
from shipdeck.core.machine import fold
from shipdeck.core.model import Health
from shipdeck.core.watching import watch_verdict

SERIES = ("error_rate", "p95_latency", "queue_depth")
HEALTHY = {"error_rate": 0.4, "p95_latency": 300.0, "queue_depth": 20.0}
# engine_events: breach_for 120 s, blind_after 60 s.


def watching(duration: float = 300.0) -> Script:
    script = Script().to_production().pass_steps("verify.smoke").add(EventKind.STEP_STARTED, step="watch")
    script.add(EventKind.WATCH_STARTED, advance=0.0, step="watch", duration=duration, at=script.at)
    return script


def poll(script: Script, at: float, **values: float | None) -> Script:
    for name in SERIES:
        value = values.get(name, HEALTHY[name])
        script.add(EventKind.SAMPLE, advance=0.0, series=name, at=at, value=value)
    return script


def polls(script: Script, start: float, end: float, every: float = 10.0, **values: float | None) -> Script:
    at = start
    while at <= end:
        poll(script, at, **values)
        at += every
    return script


def test_a_healthy_watch_passes_after_its_whole_duration() -> None:
    script = watching()
    t0 = script.at
    polls(script, t0, t0 + 290)
    assert not watch_verdict(fold(script.events), "watch").finished
    poll(script, t0 + 300)
    verdict = watch_verdict(fold(script.events), "watch")
    assert verdict.finished and verdict.healthy, verdict.text
    assert verdict.evidence["observed"] == "5m00s of 5m00s"


def test_a_gap_with_no_poll_is_blind_even_when_the_values_around_it_are_healthy() -> None:
    """A crash (or a hung poll) leaves a gap: nobody saw that time, so it is never healthy."""
    script = watching()
    t0 = script.at
    polls(script, t0, t0 + 20)
    polls(script, t0 + 100, t0 + 400)  # 80 s unobserved > blind_after (60 s)
    state = fold(script.events)
    verdict = watch_verdict(state, "watch")
    assert verdict.finished and not verdict.healthy
    assert verdict.text.startswith("blind")
    assert state.watch("watch").missed == pytest.approx(80.0)
    assert any(key.startswith("blind ") for key in verdict.evidence)


def test_a_resumed_watch_runs_on_until_it_has_observed_its_whole_duration() -> None:
    script = watching()
    t0 = script.at
    polls(script, t0, t0 + 100)
    polls(script, t0 + 200, t0 + 300)  # 100 s dead, not observed
    state = fold(script.events)
    assert state.watch("watch").observed == pytest.approx(200.0)
    assert not watch_verdict(state, "watch").finished  # the original end has passed; 100 s still to see
    polls(script, t0 + 310, t0 + 400)
    assert watch_verdict(fold(script.events), "watch").finished


def test_a_short_gap_within_blind_after_counts_as_observed() -> None:
    script = watching(duration=120.0)
    t0 = script.at
    poll(script, t0)
    poll(script, t0 + 55)
    poll(script, t0 + 110)
    poll(script, t0 + 120)
    verdict = watch_verdict(fold(script.events), "watch")
    assert verdict.finished and verdict.healthy, verdict.text


def test_a_breach_starting_in_the_last_moments_keeps_the_watch_open() -> None:
    script = watching(duration=120.0)
    t0 = script.at
    polls(script, t0, t0 + 90)
    polls(script, t0 + 100, t0 + 120, error_rate=7.3)  # above 5 %, not yet sustained for 120 s
    state = fold(script.events)
    verdict = watch_verdict(state, "watch")
    assert not verdict.finished and "held open" in verdict.text
    polls(script, t0 + 130, t0 + 220, error_rate=7.3)
    state = fold(script.events)
    assert state.series_health("error_rate").health is Health.BREACH
    verdict = watch_verdict(state, "watch")
    assert verdict.finished and not verdict.healthy and "breach" in verdict.text
    actions = next_actions(state, Policy(auto=True))
    assert actions and isinstance(actions[0], RequestRollback)


def test_a_breach_that_clears_after_the_window_lets_the_watch_pass() -> None:
    script = watching(duration=120.0)
    t0 = script.at
    polls(script, t0, t0 + 100)
    polls(script, t0 + 110, t0 + 130, error_rate=6.0)
    polls(script, t0 + 140, t0 + 150)
    verdict = watch_verdict(fold(script.events), "watch")
    assert verdict.finished and verdict.healthy, verdict.text


@pytest.mark.parametrize("garbage", [math.nan, math.inf, -1.0, "7", True])
def test_garbage_values_are_no_data_and_never_healthy(garbage: object) -> None:
    script = watching(duration=120.0)
    t0 = script.at
    poll(script, t0)
    for offset in range(10, 130, 10):
        poll(script, t0 + offset, error_rate=garbage)  # type: ignore[arg-type]
    state = fold(script.events)
    verdict = watch_verdict(state, "watch")
    assert verdict.finished and not verdict.healthy
    assert state.series_health("error_rate").was_blind


def test_a_watch_that_never_started_is_not_finished() -> None:
    state = fold(Script().to_production().events)
    assert not watch_verdict(state, "watch").finished


def test_peaks_and_sample_counts_are_per_watch_and_replayed_from_the_journal() -> None:
    script = watching(duration=60.0)
    t0 = script.at
    poll(script, t0, error_rate=0.9)
    poll(script, t0 + 30, error_rate=2.5)
    poll(script, t0 + 60, error_rate=0.5)
    state = fold(script.events)
    error_rate = state.series_health("error_rate")
    assert error_rate.peak == 2.5 and error_rate.samples == 3
    assert fold(script.events) == state


def test_a_shadow_series_is_watched_and_shown_but_never_acted_on() -> None:
    script = watching(duration=120.0)
    event = script.events[0]
    data = dict(event.data)
    data["series"] = [dict(s, shadow=(s["name"] == "p95_latency")) for s in data["series"]]
    script.events[0] = type(event)(event.kind, data, at=event.at, seq=event.seq)
    t0 = script.at
    polls(script, t0, t0 + 240, p95_latency=2600.0)  # far above its rollback line, for long enough
    state = fold(script.events)
    assert state.series_health("p95_latency").health is Health.BREACH
    assert not any(isinstance(action, RequestRollback) for action in next_actions(state, Policy(auto=True)))
    verdict = watch_verdict(state, "watch")
    assert verdict.finished and verdict.healthy, verdict.text
    assert "shadow" in verdict.evidence["p95_latency"]


def test_a_watch_whose_every_poll_is_late_still_ends_blind_at_its_length() -> None:
    """Polls slower than blind_after observe nothing; the watch must end (blind), not run forever."""
    script = watching(duration=300.0)
    t0 = script.at
    polls(script, t0 + 70, t0 + 350, every=70.0)
    verdict = watch_verdict(fold(script.events), "watch")
    assert verdict.finished and not verdict.healthy and verdict.text.startswith("blind")
