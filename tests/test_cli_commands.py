"""The smaller commands through the real CLI: notes, check-migrations, doctor, history, and
integrations that are named in config but not shipped yet."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import fast_world, shipdeck


def test_an_integration_not_shipped_yet_is_refused_clearly(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    text = world.config.read_text(encoding="utf-8").replace('provider = "simulated"\nduration', 'provider = "ecs"\nduration')
    world.config.write_text(text, encoding="utf-8")
    result = shipdeck(world, "release", "--auto", "--yes")
    assert result.returncode == 2
    assert "[deploy] provider = \"ecs\"" in result.stderr and "not available in this version" in result.stderr
    assert "Traceback" not in result.stderr


def test_notes_and_migrations_from_the_cli(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    notes = shipdeck(world, "notes", "--to", "origin/develop", "--version", "1.4.0")
    assert notes.returncode == 0, notes.stderr
    assert notes.stdout.startswith("# v1.4.0") and "## New Features" in notes.stdout
    assert "compare/v1.3.0...v1.4.0" in notes.stdout
    as_json = json.loads(shipdeck(world, "notes", "--to", "origin/develop", "--format", "json").stdout)
    assert as_json["previous_tag"] == "v1.3.0" and as_json["commits"]
    unknown = shipdeck(world, "notes", "--from", "v0.0.0-nope", "--to", "origin/develop")
    assert unknown.returncode == 2 and "v0.0.0-nope" in unknown.stderr and "Traceback" not in unknown.stderr
    migrations = shipdeck(world, "check-migrations", "--to", "origin/develop")
    assert migrations.returncode == 0, migrations.stdout + migrations.stderr


def test_doctor_history_and_status(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    doctor = shipdeck(world, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "remote origin" in doctor.stdout and "all checks passed" in doctor.stdout
    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    history = shipdeck(world, "history", "--json")
    rows = [json.loads(line) for line in history.stdout.splitlines()]
    assert [(r["version"], r["type"], r["outcome"], r["captain"]) for r in rows] == [("v1.4.0", "regular", "done", "captain")]
    status = json.loads(shipdeck(world, "status", "--json").stdout)
    assert status["phase"] == "done" and status["production"] == "v1.4.0" and status["lock"] is None
    assert not status["rollback"]["available"]


def test_a_hotfix_is_cut_from_main_skips_the_staging_soak_and_merges_back_into_develop(tmp_path: Path) -> None:
    import subprocess

    world = fast_world(tmp_path)
    result = shipdeck(world, "release", "--type", "hotfix", "--auto", "--yes")
    assert result.returncode == 0, result.stderr
    assert "skipped by the hotfix fast-track" in result.stdout
    assert "approved by captain as cto" in result.stdout
    assert "hotfix/1.3.1 merged into main and develop and pushed" in result.stdout
    for branch in ("main", "develop"):
        contained = subprocess.run(["git", "-C", str(world.origin), "merge-base", "--is-ancestor", "v1.3.1", branch])
        assert contained.returncode == 0, f"v1.3.1 is not in {branch} on origin"
