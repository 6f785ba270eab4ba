"""The cockpit shows what the metrics source says about itself: the baseline measured before
the deploy on each chart, and the rate-limit budget in the header when it runs low."""

from __future__ import annotations

import pytest
from tui_fixtures import frozen_app, utc, watching  # noqa: F401 - utc is an autouse fixture

from shipdeck.core.events import EventKind
from shipdeck.tui.widgets.header import ReleaseHeader
from shipdeck.tui.widgets.metric_chart import MetricChart


def _script(budget: list[float] | None):
    script = watching(samples=6)
    script.add(EventKind.BASELINE_MEASURED, values={"error_rate": 0.42, "p95_latency": 287.0, "queue_depth": None}, start=0.0, end=1.0)
    script.add(EventKind.SAMPLE, series="error_rate", at=script.at + 60, value=0.5, **({"budget": budget} if budget is not None else {}))
    return script


@pytest.mark.anyio
async def test_a_low_budget_shows_in_the_header_and_the_measured_baseline_on_the_chart() -> None:
    app = frozen_app(_script([5, 100, 30.0]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        header = str(app.screen.query_one(ReleaseHeader).render())
        assert "metrics budget 5/100, resets in 30s" in header
        chart = app.screen.query_one("#chart-error_rate", MetricChart)
        assert "before 0.42%" in str(chart._title(120))


@pytest.mark.anyio
async def test_a_healthy_budget_is_not_shown() -> None:
    app = frozen_app(_script([]))
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert "metrics budget" not in str(app.screen.query_one(ReleaseHeader).render())
