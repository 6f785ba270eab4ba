"""SIGTERM and SIGHUP during a headless release: stopped at a safe point, journaled, resumable."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_support import fast_world, journal_events, shipdeck, spawn
from test_cli_release import _wait_for_event

from shipdeck.core.journal import Journal

POINTS = {
    "mid-deploy": lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy",
    "mid-watch": lambda e: e["kind"] == "sample",
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("point", list(POINTS))
def test_a_signal_stops_the_release_journals_it_and_resume_finishes_it(tmp_path: Path, signum: signal.Signals, point: str) -> None:
    world = fast_world(tmp_path)
    process = spawn(world, "release", "--auto", "--yes")
    _wait_for_event(world, POINTS[point])
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 4, stderr
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    assert f"stopped by {name}" in stderr
    assert f"shipdeck --config {world.config.resolve()} --repo {world.repo.resolve()} resume --auto" in stderr
    events = journal_events(world)
    assert events[-1]["kind"] == "note" and name in events[-1]["data"]["message"]
    assert f"stopped by {name}" in stdout  # the note is an event line like any other
    paths = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))
    assert len(Journal(paths[-1]).load(repair=False)) == len(events)  # whole lines only, checksums intact

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 0, resumed.stderr
    events = journal_events(world)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len([e for e in events if e["kind"] == "production_changed" and e["data"]["version"] == "v1.4.0"]) == 1
