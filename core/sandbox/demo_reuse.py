"""`shipdeck demo --dir D` a second time: the world in D is reused for its next release.

A demo world is what `build_demo_world` leaves: `shipdeck.toml` with a `[sandbox]` table beside
the work clone `work/` and the bare `origin.git/`. Anything else that is not empty is refused:
the demo never writes into a folder it did not make.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from ..config_writer import render
from ..store import identity
from .demo import DemoWorld, demo_sections
from .demo_repo import DEMO_IDENTITY, git_env

# What a teammate merges into develop between two demo releases, in turn.
FOLLOW_UPS = (
    ("feat: saved-search alerts by email (#51)", "app/alerts.py", "def alert(search):\n    return search.matches()\n"),
    ("fix: tracker keeps its sort order after a refresh (#52)", "app/tracker_sort.py", "ORDER = 'updated_at desc'\n"),
    ("perf: cache the job search facets (#53)", "app/facets.py", "CACHE_SECONDS = 60\n"),
)


class NotADemoWorld(Exception):
    """The folder holds something else; the message says what to do."""


def existing_demo_world(root: Path) -> DemoWorld | None:
    """The demo world in `root`; None when `root` is missing or empty. Raises NotADemoWorld."""
    root = Path(root)
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return None
    world = DemoWorld(root=root, repo=root / "work", origin=root / "origin.git", config=root / "shipdeck.toml")
    if root.is_dir() and _is_demo_config(world.config) and (world.repo / ".git").is_dir() and (world.origin / "HEAD").is_file():
        return world
    raise NotADemoWorld(
        f"{root} is not empty and is not a shipdeck demo world (shipdeck.toml with [sandbox] beside work/ and "
        "origin.git/); give --dir a new or empty directory, or one an earlier `shipdeck demo --dir` made"
    )


def _is_demo_config(path: Path) -> bool:
    try:
        return isinstance(tomllib.loads(path.read_text(encoding="utf-8")).get("sandbox"), dict)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def rewrite_config(world: DemoWorld, scenario: str, pace: str) -> None:
    """Point the world's config at this run's scenario and pace (it is generated, never hand-kept)."""
    world.config.write_text(render(demo_sections(scenario, identity(), pace=pace)), encoding="utf-8")


def merge_follow_up(world: DemoWorld) -> str:
    """Commit the next follow-up onto develop in origin, as a teammate would; returns its subject."""
    env = git_env()

    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(world.repo), *args], env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args[:2])} in {world.repo} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    git("fetch", "--quiet", "origin")
    git("checkout", "--quiet", "develop")
    git("merge", "--quiet", "--ff-only", "origin/develop")
    count = int(git("rev-list", "--count", "origin/develop"))
    subject, path, text = FOLLOW_UPS[count % len(FOLLOW_UPS)]
    target = world.repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    # Each follow-up changes its file, so a recurring subject still makes a new commit.
    target.write_text(f"{text}# revision {count}\n", encoding="utf-8")
    git("add", path)
    git("-c", f"user.name={DEMO_IDENTITY[0]}", "-c", f"user.email={DEMO_IDENTITY[1]}", "-c", "commit.gpgsign=false",
        "commit", "--quiet", "-m", subject)
    git("push", "--quiet", "origin", "develop")
    return subject
