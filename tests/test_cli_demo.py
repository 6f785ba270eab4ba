"""`shipdeck demo --dir`: a fresh world, the same world again for its next release, and a
folder that is not a demo world left alone."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from cli_support import CLI, environment


def _demo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "demo", "--auto", "--pace", "test", "--dir", str(root), *args],
                          capture_output=True, text=True, timeout=180, env=environment())


def _journals(root: Path) -> list[list[dict]]:
    paths = sorted((root / "state").glob("*/production/releases/*.jsonl"))
    return [[json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] for path in paths]


def test_the_demo_prints_the_commands_that_read_its_world_and_they_work(tmp_path: Path) -> None:
    root = tmp_path / "world"
    first = _demo(root)
    assert first.returncode == 0, first.stderr
    lines = [line.strip() for line in first.stderr.splitlines()]
    status_line = next(line for line in lines if line.endswith(" status"))
    assert status_line == shlex.join(["shipdeck", "--config", str((root / "shipdeck.toml").resolve()),
                                      "--repo", str((root / "work").resolve()), "status"])
    status = subprocess.run([*CLI, *shlex.split(status_line)[1:]], capture_output=True, text=True, timeout=60,
                            env=environment(), cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("v1.4.0 (regular) to production: done")


def test_a_second_demo_in_the_same_folder_starts_the_next_release_there(tmp_path: Path) -> None:
    root = tmp_path / "world"
    assert _demo(root).returncode == 0
    origin = root / "origin.git"
    develop_before = subprocess.run(["git", "-C", str(origin), "rev-parse", "develop"], capture_output=True, text=True).stdout

    second = _demo(root)

    # How far v1.5.0 gets is the release lifecycle's business (branch names, merge-back); here:
    # the world is reused, not rebuilt over itself.
    assert "fast-import" not in second.stderr
    assert f"reusing the demo world in {root}" in second.stderr and "starting the next release there" in second.stderr
    log = subprocess.run(["git", "-C", str(origin), "log", "--format=%s", f"{develop_before.strip()}..develop"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["fix: tracker keeps its sort order after a refresh (#52)"]  # one teammate merge, not a rebuilt history
    journals = _journals(root)
    assert [events[0]["data"]["tag"] for events in journals] == ["v1.4.0", "v1.5.0"]
    assert journals[1][0]["data"]["previous_tag"] == "v1.4.0"


def test_a_folder_that_is_not_a_demo_world_is_refused_and_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.txt").write_text("mine\n", encoding="utf-8")

    result = _demo(root)

    assert result.returncode == 2
    assert result.stderr == (
        f"shipdeck: {root} is not empty and is not a shipdeck demo world (shipdeck.toml with [sandbox] beside work/ and "
        "origin.git/); give --dir a new or empty directory, or one an earlier `shipdeck demo --dir` made\n"
    )
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
