"""The deploy's ETA rests on earlier deploys when the journals have some, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_events import started
from tui_fixtures import BASE, deploying, frozen_app, utc  # noqa: F401 - utc is an autouse fixture

from shipdeck.core.events import EventKind
from shipdeck.core.journal import Journal
from shipdeck.tui.deploy_history import deploy_history
from shipdeck.tui.widgets.deploy_progress import DeployProgress

pytestmark = pytest.mark.anyio


def write_past_release(folder: Path, tag: str, weeks_ago: int, deploy_seconds: float, *, failed: bool = False, environment: str = "production") -> None:
    at = BASE - weeks_ago * 7 * 86400
    journal = Journal(folder / f"{weeks_ago:02d}-{tag}.jsonl")
    journal.load()
    journal.append(EventKind.RELEASE_STARTED, dict(started(at=at).data, id=tag, tag=tag, version=tag[1:], environment=environment), at)
    journal.append(EventKind.STEP_STARTED, {"step": "deploy"}, at + 600)
    outcome = EventKind.STEP_FAILED if failed else EventKind.STEP_PASSED
    journal.append(outcome, {"step": "deploy", "summary": "done"}, at + 600 + deploy_seconds)
    journal.close()


@pytest.fixture
def two_past_deploys(tmp_path: Path) -> Path:
    write_past_release(tmp_path, "v1.2.0", 2, 120.0)
    write_past_release(tmp_path, "v1.3.0", 1, 180.0)
    write_past_release(tmp_path, "v1.3.1", 1, 900.0, failed=True)  # a failed deploy says nothing about timing
    write_past_release(tmp_path, "v1.3.2", 1, 30.0, environment="staging")  # another environment
    return tmp_path


def test_history_is_the_median_of_successful_deploys_to_the_environment(two_past_deploys):
    history = deploy_history(sorted(two_past_deploys.glob("*.jsonl")), environment="production")
    assert (history.median_seconds, history.deploys) == (150.0, 2)


@pytest.mark.parametrize(
    ("with_history", "size", "expected"),
    [
        # The deploy has run 23s of the 2m30s the last two took.
        (True, (160, 48), "75% ETA 2m07s (median of 2 deploys)"),
        (True, (80, 24), "75% ETA 2m07s (median)"),  # the short form keeps the bar readable
        (False, (160, 48), "75% ETA 7s (from progress)"),
    ],
)
async def test_eta_says_what_it_rests_on(two_past_deploys, tmp_path_factory, with_history, size, expected):
    folder = two_past_deploys if with_history else tmp_path_factory.mktemp("no-history")
    app = frozen_app(deploying(), tmp=folder)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = str(app.screen.query_one(DeployProgress).render())
        assert expected in text, text


async def test_a_deploy_that_passed_without_reporting_a_fraction_shows_done(tmp_path):
    script = deploying(progress_ticks=0)  # a command or a workflow: log lines, no fraction
    script.add(EventKind.STEP_PROGRESSED, advance=2, step="deploy", message="running deploy.sh for v1.4.0", log=["deploying v1.4.0"])
    script.add(EventKind.STEP_PASSED, advance=3, step="deploy", summary="deploy.sh deployed v1.4.0 in 3.0s")
    app = frozen_app(script, tmp=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = str(app.screen.query_one(DeployProgress).render())
        assert "100%" in text and " 0%" not in text, text
