"""The smaller commands through the real CLI: notes, check-migrations, doctor, history, and
integrations that are named in config but not shipped yet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import CLI, environment, fast_world, journal_events, shipdeck


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


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60, env=environment())


def test_global_options_work_before_and_after_the_subcommand(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = _cli("--repo", world.repo, "--config", world.config, "notes", "--to", "origin/develop", cwd=elsewhere)
    after = _cli("notes", "--repo", world.repo, "--config", world.config, "--to", "origin/develop", cwd=elsewhere)
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "## New Features" in after.stdout
    assert "github.com/example/demo-product/compare/v1.3.0..." in after.stdout  # --config was read

    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    # After the subcommand wins over before it; one given only before it still counts.
    mixed = _cli("--repo", elsewhere, "--config", world.config, "status", "--json", "--repo", world.repo, cwd=elsewhere)
    assert mixed.returncode == 0, mixed.stderr
    status = json.loads(mixed.stdout)
    assert (status["phase"], status["production"]) == ("done", "v1.4.0")


@pytest.mark.parametrize("command", ["check-migrations", "notes"])
def test_outside_a_git_repository_is_one_clear_line_and_exit_2(tmp_path: Path, command: str) -> None:
    result = _cli(command, "--from", "v1.0.0", "--to", "v1.1.0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"shipdeck: {tmp_path.resolve()} is not a git repository; run inside the product's repository or pass --repo\n"


def test_a_reader_that_goes_away_is_no_traceback(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    assert shipdeck(world, "release", "--auto", "--yes").returncode == 0
    for args in (("status",), ("status", "--json"), ("history",), ("notes", "--to", "origin/develop", "--format", "json")):
        process = subprocess.Popen([*CLI, "--config", str(world.config), "--repo", str(world.repo), *args],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # `| head -0`: the reader is gone before shipdeck writes a byte
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 0, (args, stderr)
        assert stderr == "", args


def test_a_headless_release_outlives_the_reader_of_its_output(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    process = subprocess.Popen([*CLI, "--config", str(world.config), "--repo", str(world.repo), "release", "--auto", "--yes"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert "v1.4.0 released to production" in stderr
    assert journal_events(world)[-1]["kind"] != "note"


def test_a_headless_release_outlives_the_reader_of_its_diagnostics(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    process = subprocess.Popen([*CLI, "--config", str(world.config), "--repo", str(world.repo), "release", "--auto", "--yes"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment())
    assert process.stderr is not None
    process.stderr.close()  # `2>&1 >/dev/null | head -0`
    assert process.wait(timeout=120) == 0
    assert json.loads(shipdeck(world, "status", "--json").stdout)["phase"] == "done"


class ProviderError(Exception):
    """Stand-ins with the real names and the real hierarchy (GitReleaseError < ProviderError)."""


class GitReleaseError(ProviderError):
    pass


class ReleasePlanError(GitReleaseError):
    pass


class NothingToRelease(GitReleaseError):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ReleasePlanError("--version 1.2.0 is not greater than the previous release v1.3.0"), 2),
        (NothingToRelease("nothing to release: develop has no commits since v1.4.0"), 0),
        (GitReleaseError("push rejected"), 1),
    ],
)
def test_git_planning_errors_map_to_the_contract_exit_codes(capsys: pytest.CaptureFixture[str], error: Exception, code: int) -> None:
    from shipdeck.tui.cli import _known_error

    assert _known_error(error) == code
    assert capsys.readouterr().err == f"shipdeck: {error}\n"


def test_a_real_provider_error_subclass_by_name_wins_over_its_base_class(capsys: pytest.CaptureFixture[str]) -> None:
    from shipdeck.core.providers.base import ProviderError as RealProviderError
    from shipdeck.tui.cli import _known_error

    planning = type("ReleasePlanError", (RealProviderError,), {})
    assert _known_error(planning("bad --version")) == 2
    assert _known_error(RealProviderError("deploy failed")) == 1
