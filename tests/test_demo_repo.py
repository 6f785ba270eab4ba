"""The generated demo repository: shape, determinism, speed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from shipdeck.core.sandbox.demo_repo import build_demo_repo, git_env


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=git_env(), capture_output=True, text=True, check=True
    ).stdout


def test_demo_repo_is_a_clean_clone_on_develop_with_origin(tmp_path: Path) -> None:
    started = time.perf_counter()
    demo = build_demo_repo(tmp_path)
    assert time.perf_counter() - started < 2.0
    assert _git(demo.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == "develop"
    assert _git(demo.path, "status", "--porcelain") == ""
    assert _git(demo.path, "remote", "get-url", "origin").strip() == str(demo.origin)
    assert _git(demo.origin, "rev-parse", "--is-bare-repository").strip() == "true"
    remote_refs = _git(demo.path, "ls-remote", "origin")
    for ref in ("refs/heads/main", "refs/heads/develop", "refs/tags/v1.2.0", "refs/tags/v1.3.0"):
        assert ref in remote_refs
    assert _git(demo.path, "rev-parse", "main").strip() == _git(demo.path, "rev-parse", "v1.3.0^{}").strip()
    assert _git(demo.path, "cat-file", "-t", "v1.3.0").strip() == "tag"  # annotated


def test_demo_history_after_v1_3_has_the_commits_the_cockpit_tests_use(tmp_path: Path) -> None:
    demo = build_demo_repo(tmp_path, commits_per_feature=3)
    log = _git(demo.path, "log", "--format=%s%n%b", "v1.3.0..develop")
    assert "Merge pull request #41 from org/feature/ai-copilot" in log
    assert "[@click=app.quit] handle [/b] and [TODO] in tracker" in log
    assert "\x1b[31m" in log
    assert "BREAKING CHANGE:" in log
    assert 'Revert "feat: experimental dark mode toggle"' in log
    assert "ask questions, get answers (part 3)" in log
    files = _git(demo.path, "diff", "--name-only", "v1.3.0", "develop")
    assert "migrations/versions/20251006_add_source.py" in files
    assert "migrations/versions/20251008_cleanup.py" not in files


def test_demo_repo_is_deterministic_and_destructive_migration_is_opt_in(tmp_path: Path) -> None:
    first = build_demo_repo(tmp_path / "a")
    second = build_demo_repo(tmp_path / "b")
    assert _git(first.path, "rev-parse", "develop") == _git(second.path, "rev-parse", "develop")
    destructive = build_demo_repo(tmp_path / "c", destructive_migration=True)
    files = _git(destructive.path, "diff", "--name-only", "v1.3.0", "develop")
    assert "migrations/versions/20251008_cleanup.py" in files
