"""A git killed while it holds a ref lock: resume asks origin and clears what the dead run left."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from shipdeck.core.providers.git import GitRelease, GitReleaseError
from shipdeck.core.sandbox.demo_repo import DemoRepo, build_demo_repo

from git_support import git, kill_during_ref_update

TODAY = dt.date(2025, 10, 13)
NOTES = "# v1.4.0\n\n## New Features\n- ✨ AI Copilot\n"
HOUR = 3600.0


@pytest.fixture
def demo(tmp_path: Path) -> DemoRepo:
    return build_demo_repo(tmp_path / "demo")


def git_dir(demo: DemoRepo) -> Path:
    return demo.path / ".git"


def stale_lock(path: Path, age: float = HOUR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    old = time.time() - age
    os.utime(path, (old, old))
    return path


def test_killed_during_the_cut_push_resume_asks_origin_and_clears_the_lock(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    kill_during_ref_update(demo.path, "refs/remotes/origin/release/*", "cut", plan, NOTES)
    lock = git_dir(demo) / "refs/remotes/origin/release/2025-10-13.lock"
    assert lock.exists()
    assert git(demo.origin, "rev-parse", f"{plan.tag}^{{commit}}") == git(demo.origin, "rev-parse", plan.branch)
    with pytest.raises(GitReleaseError) as failed:
        release.fetch()
    message = str(failed.value)
    assert f"lock file {lock}" in message and "killed" in message and "safe to remove" in message
    assert "Another git process" not in message  # git's long hint is not repeated
    assert release.cut_status(plan) == "done"  # origin decides, the stale lock does not matter

    takeover = time.time()
    running = git_dir(demo) / "refs/heads/someone-elses.lock"
    running.touch()  # a git that started after the takeover: never ours to remove
    os.utime(running, (takeover + 1, takeover + 1))
    assert release.clear_stale_locks(takeover) == [str(lock)]
    assert running.exists() and not lock.exists()
    release.fetch()
    again = release.cut(plan, NOTES)
    assert again.already_done and not again.pushed
    assert git(demo.path, "rev-parse", f"{plan.tag}^{{commit}}") == again.commit


def test_killed_during_the_merge_push_merge_status_says_done(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    cut = release.cut(plan, NOTES)
    kill_during_ref_update(demo.path, "refs/remotes/origin/main", "merge", plan)
    lock = git_dir(demo) / "refs/remotes/origin/main.lock"
    assert lock.exists()
    for branch in ("main", "develop"):  # origin took the atomic push before git was killed
        git(demo.origin, "merge-base", "--is-ancestor", cut.commit, branch)
    with pytest.raises(GitReleaseError, match="main.lock exists: it is left by a git that was killed"):
        release.fetch()
    assert release.merge_status(plan) == "done"
    assert release.clear_stale_locks(time.time()) == [str(lock)]
    merged = release.merge_release(plan)
    assert merged.already_done and merged.already_merged == ("main", "develop")
    release.fetch()


def test_merge_status_reads_origin_not_remote_tracking_refs(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    release.cut(plan, NOTES)
    # Remote-tracking refs that lie (already merged) change nothing: origin is asked.
    release_commit = git(demo.path, "rev-parse", plan.branch)
    git(demo.path, "update-ref", "refs/remotes/origin/main", release_commit)
    git(demo.path, "update-ref", "refs/remotes/origin/develop", release_commit)
    assert release.merge_status(plan) == "not_done"
    assert release.merge_release(plan).merged_into == ("main", "develop")
    assert release.merge_status(plan) == "done"


def test_only_ref_locks_older_than_the_takeover_are_removed(demo: DemoRepo, tmp_path: Path) -> None:
    common = git_dir(demo)
    old = [
        stale_lock(common / "refs/heads/release/2025-10-13.lock"),
        stale_lock(common / "refs/tags/v1.4.0.lock"),
        stale_lock(common / "refs/remotes/origin/develop.lock"),
        stale_lock(common / "packed-refs.lock"),
    ]
    untouched = [
        stale_lock(common / "refs/remotes/upstream/main.lock"),  # another remote
        stale_lock(common / "index.lock"),  # the captain's own work, not a ref
        stale_lock(common / "refs/heads/fresh.lock", age=-60),  # newer than the takeover
    ]
    # From a linked worktree: refs (and their locks) live in the common git dir.
    worktree = tmp_path / "wt"
    git(demo.path, "worktree", "add", "--quiet", "--detach", str(worktree))
    removed = GitRelease(worktree).clear_stale_locks(time.time())
    assert removed == sorted(str(path.resolve()) for path in old)
    assert not any(path.exists() for path in old)
    assert all(path.exists() for path in untouched)
    assert GitRelease(worktree).clear_stale_locks(time.time() - 2 * HOUR) == []


def test_git_errors_are_short_and_never_show_credentials(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    git(demo.path, "remote", "set-url", "origin", "http://captain:s3cr3t-token@127.0.0.1:9/r.git")
    for call in (lambda: release.cut_status(plan), lambda: release.merge_status(plan), release.fetch):
        with pytest.raises(GitReleaseError) as failed:
            call()
        message = str(failed.value)
        assert "s3cr3t-token" not in message and "127.0.0.1" in message
        assert len(message) < 500
