"""The exit code of a ramp stopped by a breach: the flag analogue of a rollback.

Driven through the real runner and journal, the LaunchDarkly backend over HTTP to its loopback
fake, and metrics whose error rate follows the flag's share (a bad feature breaches at 10 %).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
from ramp_support import FLAG, ramp_config, ramp_plan, run_ramp, start
from test_flags_ramp import TOKEN, FlagAwareMetrics

from fakes.launchdarkly_fake import FakeLaunchDarkly
from shipdeck.core.exit_codes import ExitCode, exit_code_for
from shipdeck.core.providers.base import MetricPoint
from shipdeck.core.providers.launchdarkly import LaunchDarklyFlags
from shipdeck.core.secrets import Secret


@pytest.fixture
def fake() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag(FLAG)
        yield server


class RevokedOnBreach(FlagAwareMetrics):
    """Once the feature breaks things, the flag system refuses shipdeck's token: the move back cannot happen."""

    async def latest(self, series: Sequence[str], now: float) -> list[MetricPoint]:
        points = await super().latest(series, now)
        if any(p.value is not None and p.value > 5 for p in points):
            self.fake.token = "revoked"
        return points


def _run(tmp_path: Path, fake: FakeLaunchDarkly, metrics: Any) -> Any:
    config = ramp_config(tmp_path, {"provider": "launchdarkly", "url": fake.url}, "15m")

    def backend() -> LaunchDarklyFlags:
        return LaunchDarklyFlags(url=fake.url, token=Secret("LD_API_TOKEN", TOKEN), project="default", environment="production")

    state, _ = run_ramp(tmp_path / "j.jsonl", config, backend, metrics=metrics, first_events=lambda j: start(j, config, ramp_plan(config)))
    return state


def test_a_flag_the_engine_moved_back_exits_as_rolled_back(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    state = _run(tmp_path, fake, FlagAwareMetrics(fake, bad_from=10))
    assert state.flags[FLAG]["stage"] == "team"
    assert exit_code_for(state) is ExitCode.ROLLED_BACK


def test_a_flag_left_at_the_breaching_stage_pages(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    state = _run(tmp_path, fake, RevokedOnBreach(fake, bad_from=10))
    ten = state.step("ramp.ai-copilot.10")
    assert ten is not None and "moving ai-copilot back to team failed" in ten.summary
    assert state.flags[FLAG]["stage"] == "10%"
    assert exit_code_for(state) is ExitCode.PAGE


def test_a_ramp_whose_first_write_failed_still_exits_failed(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    fake.fail_next_patch_after_apply = 1
    state = _run(tmp_path, fake, FlagAwareMetrics(fake, bad_from=None))
    assert exit_code_for(state) is ExitCode.FAILED
