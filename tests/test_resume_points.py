"""A crash exactly between two journal lines, for every side-effect step, then resume.

A driver process runs the release and calls `os._exit` from a subscriber right after the
chosen event is fsynced: nothing after it happens, as with a power cut. The resumed run must
finish the release without repeating a push, a deploy or an announcement.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import fast_world

from shipdeck.core.events import EventKind
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase
from shipdeck.core.session import Options, open_session

SIDE_EFFECT_STEPS = ("cut", "announce.deploy", "deploy", "announce.success", "post.merge")
POINTS = [(step, "outcome") for step in SIDE_EFFECT_STEPS] + [
    ("cut", "intent"),
    ("deploy", "intent"),
    ("deploy", "production_changed"),
]


DRIVER = """
import asyncio, os, sys
from pathlib import Path
from shipdeck.core.session import Options, open_session

config, repo, step, kind = sys.argv[1:]
session = open_session(Options(config_path=Path(config), repo_path=Path(repo), auto=True, assume_yes=True, force=True))

def crash(event, state):
    here = f":{step}:" in str(event.data.get("key", "")) or event.data.get("step") == step
    if event.kind.value == kind and here:
        os._exit(137)

session.runner.subscribe(crash)
asyncio.run(session.runner.run())
sys.exit(3)  # the crash point was never reached
"""


def _options(world) -> Options:
    return Options(config_path=world.config, repo_path=world.repo, auto=True, assume_yes=True, force=True)


@pytest.mark.parametrize(("step", "kind"), POINTS, ids=[f"{k}-{s}" for s, k in POINTS])
def test_crash_between_journal_lines_then_resume(tmp_path: Path, step: str, kind: str) -> None:
    world = fast_world(tmp_path)
    driver = subprocess.run(
        [sys.executable, "-c", DRIVER, str(world.config), str(world.repo), step, kind],
        capture_output=True, text=True, timeout=120,
    )
    assert driver.returncode == 137, driver.stderr

    resumed = open_session(_options(world))
    try:
        state = asyncio.run(resumed.runner.run())
    finally:
        resumed.close()

    assert phase_of(state) is Phase.DONE
    world_state = json.loads((world.root / "world.json").read_text(encoding="utf-8"))
    assert [p["text"] for p in world_state["posts"]] == ["[rehearsal] Deploying v1.4.0 to prod", "[rehearsal] v1.4.0 deployed successfully"]
    assert [d["tag"] for d in world_state["deploys"].values()] == ["v1.4.0"]
    events = [json.loads(line) for line in resumed.runner.journal.path.read_text(encoding="utf-8").splitlines()]
    changes = [e for e in events if e["kind"] == EventKind.PRODUCTION_CHANGED.value]
    assert len(changes) == 1
