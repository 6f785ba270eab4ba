"""`shipdeck release --rehearse`: the captain's own release, against simulated production.

The rehearsal copies the repository into a folder of its own — a local bare "origin" (with
the real origin's branches and tags as this clone last fetched them) and a work clone — and
writes a config that is the captain's with every outside system simulated and a `[sandbox]`
table. So nothing is pushed to a remote that is not a local path, nothing is written into the
captain's work tree or state folder, and every line, journal and announcement is marked as a
rehearsal (a `[sandbox]` config is always a rehearsal).
"""

from __future__ import annotations

import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from ..config import Config
from .demo import DemoWorld
from .demo_repo import git_env

SIMULATED_KINDS = ("image", "deploy", "metrics", "smoke", "notify", "ci")
SECTION_KEYS = {"metrics": ("series",), "smoke": ("checks",)}
# A rehearsal walks the whole release in about a minute: watches and deploys take seconds.
REHEARSAL_PACE: dict[str, dict[str, Any]] = {
    "deploy": {"duration": "6s", "tasks": 4},
    "smoke": {"per_check": "0.3s"},
    "metrics": {"interval": "1s"},
    "watch": {"deploy_window": "20s", "post_release": "5s", "breach_for": "3s", "blind_after": "3s", "baseline_window": "1m"},
}


class RehearsalError(Exception):
    """The rehearsal world could not be made; the message says why."""


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, env=git_env())
    if result.returncode != 0:
        raise RehearsalError(f"git {' '.join(args[:3])}…: {result.stderr.strip()[:300]}")
    return result.stdout.strip()


def build_rehearsal(config: Config, repo: Path, *, scenario: str = "healthy", root: Path | None = None) -> DemoWorld:
    """A rehearsal world for `repo` under `root` (a new temporary folder by default)."""
    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="shipdeck-rehearsal-"))
    origin, work = root / "origin.git", root / "work"
    _git("clone", "--quiet", "--bare", str(Path(repo).resolve()), str(origin))
    # The real origin's branches as this clone last fetched them, so develop and main are there.
    refs = _git("-C", str(repo), "for-each-ref", "--format=%(objectname) %(refname)", f"refs/remotes/{config.project.remote}")
    prefix = f"refs/remotes/{config.project.remote}/"
    for line in refs.splitlines():
        sha, ref = line.split(" ", 1)
        name = ref.removeprefix(prefix)
        if name != "HEAD":
            _git("-C", str(origin), "update-ref", f"refs/heads/{name}", sha)
    _git("clone", "--quiet", str(origin), str(work))
    for branch in (config.project.develop_branch, config.project.main_branch):
        subprocess.run(["git", "-C", str(work), "branch", "--quiet", "--track", branch, f"origin/{branch}"], capture_output=True, env=git_env())
    path = root / "shipdeck.toml"
    path.write_text(_rehearsal_config(config, root, scenario, _newest_tag(work)), encoding="utf-8")
    return DemoWorld(root=root, repo=work, origin=origin, config=path)


def _newest_tag(work: Path) -> str:
    tags = _git("-C", str(work), "tag", "--sort=-v:refname").split()
    return tags[0] if tags else ""


def _rehearsal_config(config: Config, root: Path, scenario: str, production_tag: str) -> str:
    data: dict[str, Any] = tomllib.loads(config.path.read_text(encoding="utf-8"))
    for kind in SIMULATED_KINDS:
        kept = {k: v for k, v in dict(data.get(kind) or {}).items() if k in SECTION_KEYS.get(kind, ())}
        data[kind] = {"provider": "simulated", **kept, **REHEARSAL_PACE.get(kind, {})}
    data["watch"] = {**dict(data.get("watch") or {}), **REHEARSAL_PACE["watch"]}
    for series in dict(data.get("metrics", {}).get("series") or {}).values():
        for key in ("query", "queries", "formula"):
            series.pop(key, None)  # the simulated metrics need no queries
    data.setdefault("project", {})["state_dir"] = str(root / "state")
    data.setdefault("release", {}).setdefault("window", {})["always"] = True
    data["sandbox"] = {"scenario": scenario, "production_tag": production_tag, "world": str(root / "world.json"), "rehearsal_of": str(config.path)}
    header = (
        f"# A REHEARSAL of {config.path}: every outside system is simulated; pushes go to\n"
        f"# {root / 'origin.git'}, never to the real remote; watches and deploys take seconds.\n"
        "# Delete this folder when done.\n"
    )
    return header + tomli_w.dumps(data)
