"""The command deployer: real scripts, hostile placeholder values, deadlines, crash and resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from production_world import ProductionWorld, command_deploy, production_world, release_confirming, write_script

from shipdeck.core.providers.base import DeployProgress, Unknown
from shipdeck.core.providers.command import CommandDeployer, CommandSettings

CLI = [sys.executable, "-m", "shipdeck.tui.cli"]


def deployer(command: list[str], *, status: list[str] | None = None, timeout: float = 30.0, idempotent: bool = False, cwd: Path | None = None) -> CommandDeployer:
    settings = CommandSettings(tuple(command), tuple(status or ()), timeout, idempotent)
    return CommandDeployer(settings, cwd=cwd, environment="production", tag_pattern="v{version}")


class Progress:
    def __init__(self) -> None:
        self.reports: list[DeployProgress] = []

    async def __call__(self, report: DeployProgress) -> None:
        self.reports.append(report)

    @property
    def log(self) -> list[str]:
        return [line for report in self.reports for line in report.log]


# -- the adapter itself ---------------------------------------------------------------------


def test_placeholders_are_single_literal_arguments_never_a_shell(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    script = write_script(tmp_path / "deploy.py", f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    hostile = "v1.4.0$(touch pwned); rm -rf ~ `id`"
    result = asyncio.run(deployer([str(script), "{tag}", "--env={environment}", "{version}", "{key}"], cwd=tmp_path).deploy(hostile, "k1", Progress()))

    assert json.loads(record.read_text()) == [hostile, "--env=production", hostile, "k1"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert result.production_changed


def test_output_streams_as_the_deploy_log_and_the_exit_status_decides(tmp_path: Path) -> None:
    good = write_script(tmp_path / "good.sh", "#!/bin/sh\nfor i in 1 2 3; do echo \"step $i\"; done\n")
    bad = write_script(tmp_path / "bad.sh", "#!/bin/sh\necho 'pulling image'\necho 'error: quota exceeded' >&2\nexit 7\n")
    progress = Progress()

    ok = asyncio.run(deployer([str(good), "{tag}"]).deploy("v1.4.0", "k", progress))
    failed = asyncio.run(deployer([str(bad), "{tag}"]).deploy("v1.4.0", "k", Progress()))

    assert ok.production_changed and "step 1" in progress.log and "step 3" in progress.log
    assert not failed.production_changed
    assert "exited 7" in failed.summary and failed.evidence["last output"] == "error: quota exceeded"


def test_the_deadline_kills_the_whole_process_group_and_production_is_unknown(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = write_script(tmp_path / "slow.sh", f"#!/bin/sh\nsleep 300 &\necho $! > {pids}\necho started\nwait\n")
    with pytest.raises(Unknown, match="unknown"):
        asyncio.run(deployer([str(script)], timeout=1.0).deploy("v1.4.0", "k", Progress()))
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the deploy's child outlived the deadline"


def test_a_late_failure_after_production_changed_is_reported_as_changed(tmp_path: Path) -> None:
    log = tmp_path / "production"
    script = write_script(tmp_path / "deploy.sh", f"#!/bin/sh\necho $1 > {log}\necho 'smoke hook failed'\nexit 1\n")
    status = write_script(tmp_path / "status.sh", f"#!/bin/sh\ncat {log}\n")
    result = asyncio.run(deployer([str(script), "{version}"], status=[str(status)]).deploy("v1.4.0", "k", Progress()))
    assert result.production_changed and "status_command says production runs v1.4.0" in result.summary


def test_reconcile_asks_status_command_and_never_guesses(tmp_path: Path) -> None:
    log = tmp_path / "production"
    log.write_text("1.3.0\n")
    status = write_script(tmp_path / "status.sh", f"#!/bin/sh\ncat {log}\n")
    with_status = deployer(["true"], status=[str(status)])

    with pytest.raises(Unknown, match="not declared safe"):
        asyncio.run(with_status.reconcile("v1.4.0", "k", Progress()))
    assert asyncio.run(deployer(["true"], status=[str(status)], idempotent=True).reconcile("v1.4.0", "k", Progress())) is None
    log.write_text("1.4.0\n")
    found = asyncio.run(with_status.reconcile("v1.4.0", "k", Progress()))
    assert found is not None and found.production_changed
    running = asyncio.run(with_status.running())
    assert running.version == "v1.4.0"  # a bare version is read as the project's tag

    with pytest.raises(Unknown, match="no status_command"):
        asyncio.run(deployer(["true"]).reconcile("v1.4.0", "k", Progress()))
    assert asyncio.run(deployer(["true"], idempotent=True).reconcile("v1.4.0", "k", Progress())) is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False


# -- through the CLI, a production config -------------------------------------------------------


def run(pw: ProductionWorld, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--config", str(pw.world.config), "--repo", str(pw.world.repo), *args],
        capture_output=True, text=True, timeout=timeout, env=pw.env(**env),
    )


def spawn(pw: ProductionWorld, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "--config", str(pw.world.config), "--repo", str(pw.world.repo), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pw.env(**env),
    )


def events(pw: ProductionWorld) -> list[dict]:
    paths = sorted((pw.root / "state").glob("*/production/releases/*.jsonl"))
    return [json.loads(line) for line in paths[-1].read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_healthy_release_deploys_once_with_the_team_script_and_journals_what_ran_before(tmp_path: Path) -> None:
    with production_world(tmp_path, scenario="healthy") as pw:
        done = release_confirming(pw)
        assert done.returncode == 0, done.stderr
        assert [line.split()[:2] for line in pw.deploys()] == [["v1.4.0", "production"]]
        assert pw.production() == "v1.4.0"
        seen = [e for e in events(pw) if e["kind"] == "production_observed"]
        assert len(seen) == 1 and seen[0]["data"]["version"] == "v1.3.0"
        log = [line for e in events(pw) if e["kind"] == "step_progressed" for line in e["data"].get("log", [])]
        assert "deploying v1.4.0 to production" in log and "deployed v1.4.0" in log  # the script's output is the deploy log
        assert "[rehearsal]" not in done.stdout and "simulated" not in done.stdout.lower()


def test_a_regression_is_rolled_back_by_the_same_command_with_the_previous_version(tmp_path: Path) -> None:
    with production_world(tmp_path, scenario="regression") as pw:
        done = release_confirming(pw)
        assert done.returncode == 3, done.stderr  # rolled back
        assert [line.split()[0] for line in pw.deploys()] == ["v1.4.0", "v1.3.0"]
        assert pw.production() == "v1.3.0"
        kinds = [e["kind"] for e in events(pw)]
        requested = kinds.index("rollback_requested")
        restored = max(i for i, e in enumerate(events(pw)) if e["kind"] == "production_changed")
        assert restored > requested


@pytest.mark.parametrize("status", [True, False], ids=["with-status-command", "without"])
def test_killed_mid_deploy_resume_never_deploys_twice(tmp_path: Path, status: bool) -> None:
    with production_world(tmp_path, deploy=command_deploy(tmp_path, status_command=None) if not status else None, scenario="healthy") as pw:
        assert ("status_command" in pw.world.config.read_text()) is status
        process = _spawn_until_deploying(pw, DEPLOY_SECONDS="3")
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        time.sleep(3.5)  # the orphaned script finishes on its own: production changed behind our back

        resumed = run(pw, "resume", "--auto")
        assert len(pw.deploys()) == 1, "resume deployed again"
        if status:
            assert resumed.returncode in (0, 4), resumed.stderr  # on to the production smoke test, confirmed by hand
            passed = [e for e in events(pw) if e["kind"] == "step_passed" and e["data"]["step"] == "deploy"]
            assert passed and "reconciled" in passed[0]["data"]["summary"]
            assert [e["data"]["version"] for e in events(pw) if e["kind"] == "production_changed"] == ["v1.4.0"]
        else:
            assert resumed.returncode == 5, resumed.stdout + resumed.stderr
            assert "cannot tell whether deploy happened" in resumed.stdout
            assert "no status_command" in resumed.stdout


def test_declared_idempotent_without_status_deploys_again_on_resume(tmp_path: Path) -> None:
    with production_world(tmp_path, deploy=command_deploy(tmp_path, status_command=None, idempotent=True), scenario="healthy") as pw:
        assert "status_command" not in pw.world.config.read_text()
        process = _spawn_until_deploying(pw, DEPLOY_SECONDS="2")
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        resumed = run(pw, "resume", "--auto")
        assert resumed.returncode in (0, 4), resumed.stderr  # on to the production smoke test
        assert len(pw.deploys()) == 2


def _spawn_until_deploying(pw: ProductionWorld, **env: str) -> subprocess.Popen[str]:
    """Start the release, confirming the checks before the deploy by hand; return it mid-deploy."""
    command = ("release", "--auto", "--yes")
    for _ in range(6):
        process = spawn(pw, *command, **env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not pw.deploys() and process.poll() is None:
            time.sleep(0.05)
        if pw.deploys():
            return process
        _, err = process.communicate(timeout=30)
        assert process.returncode == 4 and "confirm" in err or "approval" in err, err
        assert run(pw, "approve", "--reason", "checked by hand").returncode == 0
        command = ("resume", "--auto")
    raise AssertionError("the release never reached its deploy")


def _wait(condition, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"shipdeck ended early ({process.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("timed out")
