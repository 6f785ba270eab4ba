"""Fixture repositories for the notes tests, written with one ``git fast-import`` stream.

Reuses the demo repository's stream (fixed authors, one hour between commits) so a history
of dozens of commits and merges costs three subprocesses, not a hundred.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from shipdeck.core.sandbox.demo_repo import _Stream, git_env

Stream = _Stream


def build_history(path: Path, write: Callable[[Stream], None], *, checkout: str = "main") -> Path:
    """A git repository at ``path`` holding the history ``write`` puts in the stream."""
    stream = Stream()
    write(stream)
    env = git_env()
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], env=env, check=True)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(stream.chunks),
                   env=env, check=True, capture_output=True)
    subprocess.run(["git", "-C", str(path), "checkout", "--quiet", "--force", checkout], env=env, check=True)
    return path


def long_lived_branch(stream: Stream, *, commits: int = 30, pr: int = 715) -> dict[str, int]:
    """v1.0.0 on main; a ``v2`` branch of ``commits`` conventional commits (one with a
    BREAKING CHANGE footer, main merged into it once) merged back with ``--no-ff`` as pull
    request ``pr``; a commitizen bump commit tagged v2.0.0. Returns the count of each kind.
    """
    start = stream.commit("main", "Initial commit\n", {"README.md": "x\n"})
    stream.tag("v1.0.0", start, "v1.0.0\n")
    kinds = ("feat(api): endpoint {n}", "fix: crash {n}", "docs: page {n}", "test: case {n}",
             "refactor(core): tidy {n}", "chore(deps): bump lib {n}")
    counts: dict[str, int] = {}
    for index in range(commits):
        kind = kinds[index % len(kinds)]
        message = kind.format(n=index) + "\n"
        if index == 7:
            message = "feat(plugins): entry-point plugins\n\nBREAKING CHANGE: plugins must be re-registered\n"
            kind = "breaking"
        counts[kind.split(":")[0]] = counts.get(kind.split(":")[0], 0) + 1
        stream.commit("v2", message, {f"src/f{index}.py": f"N = {index}\n"}, start_from="main")
        if index == 12:
            stream.commit("main", "fix: hotfix on main (#700)\n", {"hot.py": "X = 1\n"})
            stream.commit("v2", "Merge branch 'main' into v2\n", merge="main")
    stream.commit("main", f"Merge pull request #{pr} from org/v2\n\nRelease v2\n", merge="v2")
    bump = stream.commit("main", "bump: version 1.0.0 → 2.0.0\n", {"VERSION": "2.0.0\n"})
    stream.tag("v2.0.0", bump, "v2.0.0\n")
    return counts
