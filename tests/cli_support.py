"""Running the real `shipdeck` CLI in subprocesses against a generated demo world."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shipdeck.core.sandbox.demo import DemoWorld, build_demo_world

CLI = [sys.executable, "-m", "shipdeck.tui.cli"]


def environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def shipdeck(world: DemoWorld, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "--config", str(world.config), "--repo", str(world.repo), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(**env),
    )


def spawn(world: DemoWorld, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "--config", str(world.config), "--repo", str(world.repo), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(**env),
    )


def fast_world(root: Path, scenario: str = "healthy") -> DemoWorld:
    return build_demo_world(root, scenario, pace="test")


def journal_events(world: DemoWorld) -> list[dict]:
    paths = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))
    assert paths, f"no journal under {world.root / 'state'}"
    return [json.loads(line) for line in paths[-1].read_text(encoding="utf-8").splitlines() if line.strip()]


def remote_tags(origin: Path) -> dict[str, str]:
    out = subprocess.run(["git", "-C", str(origin), "show-ref", "--tags", "-d"], capture_output=True, text=True).stdout
    tags = {}
    for line in out.splitlines():
        sha, ref = line.split()
        tags[ref.removeprefix("refs/tags/")] = sha
    return tags
