"""`shipdeck release --rehearse`: a real repository's release against simulated production,
on a copy: nothing pushed to its origin, nothing written in its work tree, every line marked."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_support import CLI, environment, remote_tags

from shipdeck.core.sandbox.demo_repo import build_demo_repo


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=180, env=environment())


def test_a_rehearsal_releases_a_copy_and_leaves_the_real_repository_alone(tmp_path: Path) -> None:
    repo = build_demo_repo(tmp_path / "product")
    config = tmp_path / "shipdeck.toml"
    assert _run("--repo", repo.path, "--config", config, "init").returncode == 0
    tags_before = remote_tags(repo.origin)
    refused = _run("--repo", repo.path, "--config", config, "release", "--auto", "--yes", "--force")
    assert refused.returncode == 2 and "nothing can deploy" in refused.stderr  # init configured nothing real

    rehearsal = _run("--repo", repo.path, "--config", config, "release", "--rehearse", "--auto", "--yes", "--force")

    assert rehearsal.returncode == 0, rehearsal.stderr
    assert "REHEARSAL in " in rehearsal.stderr
    lines = rehearsal.stdout.splitlines()
    assert lines and all(line.startswith("[rehearsal] ") for line in lines)
    assert "Deploying v1.4.0 to prod" in rehearsal.stdout
    assert remote_tags(repo.origin) == tags_before  # the real origin got nothing
    status = subprocess.run(["git", "-C", str(repo.path), "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == ""  # nor did the captain's work tree
    folder = Path(rehearsal.stderr.split("REHEARSAL in ", 1)[1].split(":", 1)[0])
    assert "v1.4.0" in remote_tags(folder / "origin.git")
