"""What `shipdeck init` can tell about a repository without asking anything."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RepoFacts:
    name: str
    remote_url: str
    main_branch: str  # "main" or "master" (whichever exists; "main" when neither does)
    develop_branch: str | None  # None: no develop branch; regular releases then cut from main
    github_slug: str  # "org/product" when origin is on github.com, else ""
    migration_folders: tuple[str, ...]
    tag_pattern: str = "v{version}"  # as the existing release tags are written

    @classmethod
    def assumed(cls, name: str, remote_url: str = "") -> RepoFacts:
        """Facts of a conventional repository (main + develop), for a config written without one."""
        return cls(name, remote_url, "main", "develop", github_slug(remote_url), (), "v{version}")


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def _branch_exists(repo: Path, name: str) -> bool:
    return bool(_git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}") or _git(repo, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{name}"))


def github_slug(remote_url: str) -> str:
    """`org/product` from an https or ssh GitHub remote URL; "" for anything else."""
    match = re.match(r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+/[^/]+?)(?:\.git)?/?$", remote_url)
    return match.group(1) if match else ""


def detect(repo: Path) -> RepoFacts:
    repo = Path(repo)
    remote_url = _git(repo, "config", "--get", "remote.origin.url")
    head = _git(repo, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD").removeprefix("refs/remotes/origin/")
    main = head if head in ("main", "master") else next((b for b in ("main", "master") if _branch_exists(repo, b)), "main")
    develop = "develop" if _branch_exists(repo, "develop") else None
    folders: tuple[str, ...] = ()
    if _git(repo, "rev-parse", "--verify", "--quiet", "HEAD"):
        from .migrations import find_version_folders

        folders, _ = find_version_folders(repo, "HEAD")
    return RepoFacts(repo.resolve().name, remote_url, main, develop, github_slug(remote_url), folders, _tag_pattern(repo))


def _tag_pattern(repo: Path) -> str:
    """`v{version}` or `{version}`, whichever the repository's semver tags mostly use."""
    tags = _git(repo, "tag", "--list").split()
    prefixed = sum(1 for tag in tags if re.fullmatch(r"v\d+\.\d+\.\d+", tag))
    bare = sum(1 for tag in tags if re.fullmatch(r"\d+\.\d+\.\d+", tag))
    return "{version}" if bare > prefixed else "v{version}"
