"""`shipdeck ramp` end to end: the real CLI in a subprocess, talking HTTP to the loopback fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from fakes.launchdarkly_fake import FakeLaunchDarkly

CLI = [sys.executable, "-m", "shipdeck.tui.cli"]
TOKEN = "api-cli-test"


@pytest.fixture
def fake() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag("ai-copilot")
        yield server


def _world(tmp_path: Path, fake: FakeLaunchDarkly) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "shipdeck.toml").write_text(
        f'[project]\nname = "product"\n\n[flags]\nprovider = "launchdarkly"\nurl = "{fake.url}"\n\n'
        '[[flags.ramp]]\nflag = "ai-copilot"\nstages = ["team", "10%", "100%"]\nteam_segment = "internal-staff"\nwatch = "0s"\n',
        encoding="utf-8",
    )
    return repo


def _shipdeck(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LD_API_TOKEN": TOKEN}
    return subprocess.run([*CLI, "--repo", str(repo), *args], capture_output=True, text=True, timeout=120, env=env)


def test_ramp_to_ten_then_off_through_the_cli(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    repo = _world(tmp_path, fake)
    done = _shipdeck(repo, "ramp", "ai-copilot", "--to", "10", "--auto", "--json")
    assert done.returncode == 0, done.stderr
    kinds = [json.loads(line)["kind"] for line in done.stdout.splitlines() if line.strip()]
    assert kinds.count("flag_changed") == 2  # team, then 10 %
    env = fake.environment("ai-copilot")
    assert env["on"] is True
    assert {v["variation"]: v["weight"] for v in env["fallthrough"]["rollout"]["variations"]} == {0: 10_000, 1: 90_000}

    status = _shipdeck(repo, "status")
    assert status.returncode == 0, status.stderr
    assert "ramp of ai-copilot in production: done" in status.stdout
    assert "flag ai-copilot: 10%" in status.stdout
    as_json = json.loads(_shipdeck(repo, "status", "--json").stdout)
    assert as_json["flags"] == {"ai-copilot": "10%"}

    off = _shipdeck(repo, "ramp", "ai-copilot", "--to", "off", "--auto")
    assert off.returncode == 0, off.stderr
    assert fake.environment("ai-copilot")["on"] is False


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("ramp", "nope", "--auto"), "no [[flags.ramp]] entry"),
        (("ramp", "ai-copilot", "--to", "50", "--auto"), "not one of them"),
        (("ramp", "ai-copilot", "--to", "half", "--auto"), "unknown stage 'half'"),
    ],
)
def test_a_wrong_ramp_request_is_a_usage_error(tmp_path: Path, fake: FakeLaunchDarkly, args: tuple[str, ...], words: str) -> None:
    result = _shipdeck(_world(tmp_path, fake), *args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert fake.changes == []


def test_doctor_reads_every_flag_to_ramp_and_names_a_missing_one(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    repo = _world(tmp_path, fake)
    config = repo / "shipdeck.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[[flags.ramp]]\nflag = "gone"\nteam_segment = "s"\n', encoding="utf-8")
    result = _shipdeck(repo, "doctor")
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok") and "flag ai-copilot" in line and "production: off" in line for line in lines), result.stdout
    assert any(line.startswith("FAIL") and "flag gone" in line and "404" in line for line in lines), result.stdout
    assert TOKEN not in result.stdout + result.stderr


def test_a_ramp_waiting_for_a_person_is_approved_and_resumed_without_a_deployer(tmp_path: Path, fake: FakeLaunchDarkly) -> None:
    repo = _world(tmp_path, fake)
    config = repo / "shipdeck.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('watch = "0s"', 'watch = "15m"'), encoding="utf-8")
    first = _shipdeck(repo, "ramp", "ai-copilot", "--auto")
    assert first.returncode == 4, first.stderr  # no metrics: a person watches the team stage
    assert "no metrics configured" in first.stderr
    assert _shipdeck(repo, "approve").returncode == 0
    resumed = _shipdeck(repo, "resume", "--auto")
    assert resumed.returncode == 4, resumed.stderr  # on to 10 %, which waits the same way
    weights = {v["variation"]: v["weight"] for v in fake.environment("ai-copilot")["fallthrough"]["rollout"]["variations"]}
    assert weights[0] == 10_000
