"""Helpers for the git tests: run git, change the remote behind the captain's back, kill git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from shipdeck.core.providers.git import GitPlan
from shipdeck.core.sandbox.demo_repo import DemoRepo, git_env


def git(repo: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], env=git_env(),
                            capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {args} failed: {result.stderr}")
    return result.stdout.strip()


def all_refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def other_clone(demo: DemoRepo, tmp_path: Path, name: str = "other") -> Path:
    """A second person's clone, for changing the remote behind the captain's back."""
    path = tmp_path / name
    subprocess.run(["git", "clone", "--quiet", "-c", "user.name=Other", "-c", "user.email=o@x",
                    str(demo.origin), str(path)], env=git_env(), check=True)
    return path


def land_commit(clone: Path, branch: str, path: str, content: str, message: str) -> str:
    """Commit one file on top of the remote's ``branch`` from ``clone`` and push it."""
    git(clone, "fetch", "--quiet", "origin")
    git(clone, "checkout", "--quiet", "-B", branch, f"origin/{branch}")
    target = clone / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    git(clone, "add", path)
    git(clone, "commit", "--quiet", "-m", message)
    git(clone, "push", "--quiet", "origin", branch)
    return git(clone, "rev-parse", "HEAD")


_HOOK = """#!/bin/sh
# Holds git inside its ref transaction (the .lock files exist) until it is killed.
[ "$1" = prepared ] || exit 0
while read old new ref; do
  case "$ref" in {ref_glob}) touch '{marker}'; sleep 60;; esac
done
exit 0
"""

_CHILD = """
import json, sys
from shipdeck.core.providers.git import GitPlan, GitRelease
plan = GitPlan(**json.loads(sys.argv[2]))
release = GitRelease(sys.argv[1])
release.cut(plan, sys.argv[4]) if sys.argv[3] == "cut" else release.merge_release(plan)
"""


def kill_during_ref_update(repo: Path, ref_glob: str, operation: str, plan: GitPlan,
                           notes: str = "") -> None:
    """Run ``GitRelease.cut`` or ``merge_release`` in a child process and SIGKILL it (with
    its git) while git holds the lock of a ref matching ``ref_glob`` in ``repo``.

    A ``reference-transaction`` hook holds git at the moment its ref locks are taken, so the
    kill lands there every time instead of by luck.
    """
    hooks = Path(git(repo, "rev-parse", "--absolute-git-dir")) / "hooks"
    marker = repo.parent / f"in-{operation}"
    hook = hooks / "reference-transaction"
    hook.write_text(_HOOK.format(ref_glob=ref_glob, marker=marker))
    hook.chmod(0o755)
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(repo), json.dumps(asdict(plan)), operation, notes],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"git never reached {ref_glob}: {child.communicate()}")
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the child, its git and the hook's sleep
        child.communicate()
        hook.unlink()
