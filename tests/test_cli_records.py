"""Release after release through the real CLI: rollback once a release is done, what `status`
and `history` say production runs, a run killed before its first journal line, settings kept.

Every check reads the outside world (world.json: what the simulated production runs and what
was posted) or the journal files, not shipdeck's own say-so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import fast_world, journal_events, shipdeck
from git_support import git, land_commit

from shipdeck.core.config import load_config
from shipdeck.core.ledger import Ledger
from shipdeck.core.sandbox.demo import DemoWorld
from shipdeck.core.store import Store, store_for

pytestmark = pytest.mark.slow


def _clone(world: DemoWorld) -> Path:
    """A second person's clone of the demo origin, for landing work on develop."""
    path = world.root / "other"
    subprocess.run(["git", "clone", "--quiet", "-c", "user.name=Other", "-c", "user.email=o@x", str(world.origin), str(path)],
                   capture_output=True, check=True)
    return path


def _world(world: DemoWorld) -> dict:
    return json.loads((world.root / "world.json").read_text(encoding="utf-8"))


def _store(world: DemoWorld) -> Store:
    return store_for(load_config(world.config), world.repo, "production")


def _journals(world: DemoWorld) -> list[list[dict]]:
    return [
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in _store(world).journals()
    ]


def test_rollback_after_a_release_is_done_is_a_journaled_rollback_of_its_own(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    assert _world(world)["production_tag"] == "v1.4.0"

    refused = shipdeck(world, "rollback", "--reason", "support queue on fire", SHIPDECK_USER="mallory")
    assert refused.returncode == 1 and "mallory may not roll back" in refused.stderr
    wrong_target = shipdeck(world, "rollback", "--to", "v1.2.0", "--reason", "support queue on fire")
    assert wrong_target.returncode == 2 and "healthy releases before it: v1.3.0" in wrong_target.stderr
    assert len(_journals(world)) == 1 and _world(world)["production_tag"] == "v1.4.0"

    rolled = shipdeck(world, "rollback", "--to", "1.3.0", "--reason", "support queue on fire")
    assert rolled.returncode == 3, rolled.stderr
    assert "Traceback" not in rolled.stderr
    assert _world(world)["production_tag"] == "v1.3.0"
    posts = [p["text"] for p in _world(world)["posts"]]
    assert posts[-2:] == ["[rehearsal] Rolling back v1.4.0 to v1.3.0: support queue on fire", "[rehearsal] Rolled back to v1.3.0 due to support queue on fire"]

    release, rollback = _journals(world)
    started = rollback[0]["data"]
    assert started["type"] == "rollback" and started["tag"] == "v1.4.0" and started["version"] == "1.4.0"
    assert started["previous_tag"] == "v1.3.0" and started["production_version"] == "v1.4.0"
    assert started["rollback"] == {"by": "captain", "reason": "support queue on fire", "target": "v1.3.0", "from_version": "v1.4.0", "automatic": False, "restore": {}}
    assert [s["id"] for s in started["plan"]] == ["rollback.announce", "rollback.deploy", "rollback.smoke", "rollback.done"]
    assert started["settings"]["deploy_window"] == 3.0
    assert [e["data"]["version"] for e in rollback if e["kind"] == "production_changed"] == ["v1.3.0"]

    status = shipdeck(world, "status")
    assert status.returncode == 0
    assert "rollback of v1.4.0 to v1.3.0 in production: rolled_back — production runs v1.3.0" in status.stdout
    assert json.loads(shipdeck(world, "status", "--json").stdout)["production"] == "v1.3.0"
    history = [json.loads(line) for line in shipdeck(world, "history", "--json").stdout.splitlines()]
    assert [(r["version"], r["type"], r["outcome"], r["rolled_back"], r["released_healthy"]) for r in history] == [
        ("v1.4.0", "regular", "done", True, False),
        ("v1.4.0", "rollback", "rolled_back", False, False),
    ]
    assert history[1]["rollback_reason"] == "support queue on fire" and history[1]["rollback_target"] == "v1.3.0"
    assert "support queue on fire" in shipdeck(world, "history").stdout

    again = shipdeck(world, "rollback", "--reason", "still bad")
    assert again.returncode == 1
    assert "production runs v1.3.0 and no release before it was released healthy" in again.stderr
    assert len(_journals(world)) == 2

    # The next release goes back to v1.3.0 if it must, and its notes carry the rolled-back commits.
    rolled_back_commits = git(world.origin, "log", "--format=%s", "--no-merges", "v1.3.0..v1.4.0^{commit}").splitlines()
    land_commit(_clone(world), "develop", "app/fix.py", "FIXED = True\n", "fix: the support queue no longer floods")
    fixed = shipdeck(world, "release", "--auto", "--yes")
    assert fixed.returncode == 0, fixed.stderr
    started = _journals(world)[2][0]["data"]
    assert started["tag"] == "v1.5.0" and started["previous_tag"] == "v1.3.0"
    assert started["production_version"] == "v1.3.0"
    notes = _store(world).notes_path(started["id"]).read_text(encoding="utf-8")
    assert "compare/v1.3.0...v1.5.0" in notes and "the support queue no longer floods" in notes.lower()
    pull_requests = re.findall(r"\(#\d+\)", "\n".join(rolled_back_commits))
    assert len(pull_requests) >= 5 and all(number in notes for number in pull_requests), notes
    assert _world(world)["production_tag"] == "v1.5.0"


def test_rollback_refuses_when_shipdeck_never_deployed_the_product(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    refused = shipdeck(world, "rollback", "--reason", "nervous")
    assert refused.returncode == 1
    assert "what production runs is unknown: shipdeck has not deployed this product" in refused.stderr
    assert _world(world)["production_tag"] == "v1.3.0" and _world(world)["posts"] == []
    status = json.loads(shipdeck(world, "status", "--json").stdout)
    assert status["release"] is None and status["production"] is None
    assert status["production_unknown_reason"] == "shipdeck has not deployed this product"


def test_status_says_unknown_and_not_running_for_a_release_no_process_holds(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto").returncode == 4  # waits for approval
    assert journal_events(world)[0]["data"]["production_version"] == ""  # never the tag's guess

    status = shipdeck(world, "status")
    assert "production runs unknown (shipdeck has not deployed this product)" in status.stdout
    assert "no shipdeck process is running it; `shipdeck resume` continues" in status.stdout
    as_json = json.loads(shipdeck(world, "status", "--json").stdout)
    assert as_json["running"] is False and as_json["production"] is None and as_json["lock"] is None
    assert as_json["production_unknown_reason"] == "shipdeck has not deployed this product"


def test_the_next_release_starts_from_what_the_journals_say_production_runs(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    land_commit(_clone(world), "main", "app/login.py", "BROKEN = False\n", "fix: login after the release")
    hotfix = shipdeck(world, "release", "--type", "hotfix", "--auto", "--yes")
    assert hotfix.returncode == 0, hotfix.stderr
    first, second = _journals(world)
    assert first[0]["data"]["production_version"] == ""
    assert second[0]["data"]["production_version"] == "v1.4.0"
    assert second[0]["data"]["tag"] == "v1.4.1"
    ledger = Ledger.from_store(_store(world))
    assert ledger.production() == _world(world)["production_tag"] == "v1.4.1"
    assert ledger.last_healthy() == "v1.4.1" and ledger.finished_tags() == {"v1.4.0", "v1.4.1"}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _killed_before_the_first_line(store: Store) -> list[Path]:
    """What a run killed before its first journal line leaves: its lock record and empty journals."""
    store.releases_dir.mkdir(parents=True, exist_ok=True)
    holder = {"user": "captain", "host": "bastion", "pid": _dead_pid(), "since": 1.0, "command": "release"}
    store.lock_path.write_text(json.dumps(holder), encoding="utf-8")
    empty = store.releases_dir / "20260101T000000-v1.4.0.jsonl"
    torn = store.releases_dir / "20260101T000001-v1.4.0.jsonl"
    empty.write_bytes(b"")
    torn.write_bytes(b'{"seq":1,"at":1767225601.0,"kind":"release_sta')
    return [empty, torn]


def test_a_run_killed_before_its_first_journal_line(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    store = _store(world)
    leftovers = _killed_before_the_first_line(store)

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 1
    assert "stopped before it journaled anything, so there is nothing to resume" in resumed.stderr
    assert "Run `shipdeck release` again" in resumed.stderr and "Traceback" not in resumed.stderr
    assert not any(path.exists() for path in leftovers)

    _killed_before_the_first_line(store)
    status = shipdeck(world, "status")
    assert status.returncode == 0 and "no releases yet" in status.stdout
    released = shipdeck(world, "release", "--auto", "--yes")
    assert released.returncode == 0, released.stderr
    assert "took over the release lock from captain@bastion" in released.stderr
    (journal,) = _journals(world)
    notes = [e["data"]["message"] for e in journal if e["kind"] == "note"]
    assert any(note.startswith("took over the release lock from captain@bastion") for note in notes)
    assert _world(world)["production_tag"] == "v1.4.0"


def test_a_resumed_release_reports_a_changed_config_and_journals_it(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto").returncode == 4
    text = world.config.read_text(encoding="utf-8")
    world.config.write_text(text.replace('deploy_window = "3s"', 'deploy_window = "45m"'), encoding="utf-8")

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 4, resumed.stderr
    expected = "config changed since v1.4.0 started: watch.deploy_window 3s -> 45m; this release keeps the settings it started with"
    assert expected in resumed.stderr
    events = journal_events(world)
    assert [e["data"]["message"] for e in events if e["kind"] == "note"] == [expected]
    assert events[0]["data"]["settings"]["deploy_window"] == 3.0


ROLLBACK_DRIVER = """
import os, sys
from pathlib import Path
from shipdeck.core.session import Options, open_rollback_session
import asyncio

config, repo, kind = sys.argv[1:]
session = open_rollback_session(Options(config_path=Path(config), repo_path=Path(repo), command_name="rollback"), "checkout broken")

def crash(event, state):
    if event.kind.value == kind and "rollback.deploy" in str(event.data.get("key", event.data.get("step", ""))):
        os._exit(137)

session.runner.subscribe(crash)
asyncio.run(session.runner.run())
sys.exit(3)  # the crash point was never reached
"""


@pytest.mark.parametrize("kind", ["intent", "production_changed", "outcome"])
def test_a_rollback_killed_mid_deploy_resumes_without_deploying_twice(tmp_path: Path, kind: str) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    driver = subprocess.run(
        [sys.executable, "-c", ROLLBACK_DRIVER, str(world.config), str(world.repo), kind],
        capture_output=True, text=True, timeout=120,
    )
    assert driver.returncode == 137, driver.stderr

    status = shipdeck(world, "status")
    assert "rollback of v1.4.0 to v1.3.0" in status.stdout
    assert "no shipdeck process is running it" in status.stdout
    again = shipdeck(world, "rollback", "--to", "v1.2.0", "--reason", "still")
    assert again.returncode == 2 and "roll back only to the previous release v1.3.0" in again.stderr

    resumed = shipdeck(world, "resume", "--auto")
    assert resumed.returncode == 3, resumed.stderr
    deploys = [d["tag"] for d in _world(world)["deploys"].values()]
    assert deploys == ["v1.4.0", "v1.3.0"]
    assert _world(world)["production_tag"] == "v1.3.0"
    assert [p["text"] for p in _world(world)["posts"]][-1] == "[rehearsal] Rolled back to v1.3.0 due to checkout broken"
    assert Ledger.from_store(_store(world)).production() == "v1.3.0"


def test_a_takeover_clears_the_git_lock_files_the_dead_run_left(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    store = _store(world)
    store.root.mkdir(parents=True, exist_ok=True)
    holder = {"user": "captain", "host": "bastion", "pid": _dead_pid(), "since": 1.0, "command": "release"}
    store.lock_path.write_text(json.dumps(holder), encoding="utf-8")
    stale = world.repo / ".git" / "refs" / "remotes" / "origin" / "develop.lock"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("0" * 40 + "\n")
    os.utime(stale, (1_000_000_000, 1_000_000_000))  # left long before this run took over

    released = shipdeck(world, "release", "--auto", "--yes")
    assert released.returncode == 0, released.stderr
    assert not stale.exists()
    expected = f"removed 1 stale git lock file(s) the dead run left: {stale}"
    assert expected in released.stderr
    (journal,) = _journals(world)
    assert expected in [e["data"]["message"] for e in journal if e["kind"] == "note"]
