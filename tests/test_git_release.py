"""Release mechanics against real repositories with a real bare remote."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from shipdeck.core.providers.git import GitPlan, GitRelease, GitReleaseError
from shipdeck.core.sandbox.demo_repo import DemoRepo, build_demo_repo

from git_support import all_refs, git, other_clone

TODAY = dt.date(2025, 10, 13)
NOTES = "# v1.4.0 (October 13, 2025)\n\n## New Features\n- ✨ AI Copilot\n"


@pytest.fixture(autouse=True)
def _no_global_git_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI has no global identity; the code under test must not need one.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def demo(tmp_path: Path) -> DemoRepo:
    return build_demo_repo(tmp_path / "demo")


def assert_captain_untouched(demo: DemoRepo, head_before: str) -> None:
    assert git(demo.path, "status", "--porcelain") == ""
    assert git(demo.path, "rev-parse", "--abbrev-ref", "HEAD") == "develop"
    assert git(demo.path, "rev-parse", "HEAD") == head_before


def test_release_tags_order_by_version_and_ignore_prereleases(demo: DemoRepo) -> None:
    for tag in ("v1.9.0", "v1.10.0", "v1.11.0-rc.1", "not-a-release", "v1.2"):
        git(demo.path, "tag", tag, "develop")
    release = GitRelease(demo.path)
    assert release.release_tags() == ["v1.10.0", "v1.9.0", "v1.3.0", "v1.2.0"]
    assert release.release_tags(include_prereleases=True)[0] == "v1.11.0-rc.1"
    assert release.previous_release_tag() == "v1.10.0"
    assert release.previous_release_tag(before="1.10.0") == "v1.9.0"
    assert release.plan_release("regular", None, TODAY).version == "1.11.0"


@pytest.mark.parametrize(
    ("release_type", "version", "branch", "base"),
    [
        ("regular", "1.4.0", "release/2025-10-13", "develop"),
        ("major", "2.0.0", "release/2025-10-13", "develop"),
        ("hotfix", "1.3.1", "hotfix/1.3.1", "main"),
    ],
)
def test_plan_by_release_type(demo: DemoRepo, release_type: str, version: str, branch: str,
                              base: str) -> None:
    plan = GitRelease(demo.path).plan_release(release_type, None, TODAY)
    assert (plan.version, plan.tag, plan.branch) == (version, f"v{version}", branch)
    assert plan.base_ref == f"refs/remotes/origin/{base}"
    assert plan.base_commit == git(demo.path, "rev-parse", f"origin/{base}")
    assert plan.previous_tag == "v1.3.0"


def test_plan_uses_the_remote_not_a_stale_local_branch(demo: DemoRepo, tmp_path: Path) -> None:
    other = other_clone(demo, tmp_path)
    git(other, "checkout", "--quiet", "develop")
    git(other, "commit", "--quiet", "--allow-empty", "-m", "feat: newer on origin")
    git(other, "push", "--quiet", "origin", "develop")
    plan = GitRelease(demo.path).plan_release("regular", None, TODAY)
    assert plan.base_commit == git(other, "rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("override", "message"),
    [("1.3.0", "tag v1.3.0 already exists .* not a release of refs/remotes/origin/develop"),
     ("1.2.9", "not greater"),
     ("banana", "not a semantic version")],
)
def test_version_override_is_validated(demo: DemoRepo, override: str, message: str) -> None:
    with pytest.raises(GitReleaseError, match=message):
        GitRelease(demo.path).plan_release("regular", override, TODAY)


def test_version_override_whose_tag_exists_elsewhere_is_refused(demo: DemoRepo, tmp_path: Path) -> None:
    other = other_clone(demo, tmp_path)
    git(other, "tag", "-a", "-m", "stray", "v1.5.0", "origin/main")
    git(other, "push", "--quiet", "origin", "v1.5.0")
    with pytest.raises(GitReleaseError, match="tag v1.5.0 already exists"):
        GitRelease(demo.path).plan_release("regular", "1.5.0", TODAY)
    assert GitRelease(demo.path).plan_release("regular", "1.6.0", TODAY).tag == "v1.6.0"


def test_cut_creates_branch_changelog_and_annotated_tag_in_one_push(demo: DemoRepo) -> None:
    head = git(demo.path, "rev-parse", "HEAD")
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    assert release.cut_status(plan) == "not_done"
    result = release.cut(plan, NOTES)
    assert result.pushed and not result.already_done
    remote = git(demo.origin, "for-each-ref", "--format=%(refname) %(*objectname)%(objectname)")
    assert f"refs/heads/{plan.branch} {result.commit}" in remote
    assert git(demo.origin, "rev-parse", "v1.4.0^{commit}") == result.commit
    assert git(demo.origin, "cat-file", "-t", "v1.4.0") == "tag"
    assert "## New Features\n- ✨ AI Copilot" in git(demo.origin, "cat-file", "-p", "v1.4.0")
    assert git(demo.origin, "rev-parse", f"{result.commit}^") == plan.base_commit
    changelog = git(demo.origin, "show", f"{result.commit}:CHANGELOG.md")
    assert changelog.startswith("# v1.4.0 (October 13, 2025)")
    assert "# v1.3.0 (September 1, 2025)" in changelog
    assert git(demo.origin, "diff", "--name-only", plan.base_commit, result.commit) == "CHANGELOG.md"
    assert git(demo.path, "rev-parse", "v1.4.0^{commit}") == result.commit
    assert release.cut_status(plan) == "done"
    assert_captain_untouched(demo, head)


def test_cut_twice_is_safe(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    first = release.cut(plan, NOTES)
    refs = all_refs(demo.origin)
    second = GitRelease(demo.path).cut(plan, NOTES)
    assert second.already_done and not second.pushed and second.commit == first.commit
    assert all_refs(demo.origin) == refs


def test_resume_after_a_crash_between_push_and_local_refs(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    first = release.cut(plan, NOTES)
    git(demo.path, "tag", "-d", plan.tag)
    git(demo.path, "branch", "-D", plan.branch)
    assert release.cut_status(plan) == "done"
    again = release.cut(plan, NOTES)
    assert again.already_done and again.commit == first.commit
    assert git(demo.path, "rev-parse", f"{plan.tag}^{{commit}}") == first.commit


def test_tag_on_remote_at_the_same_commit_carries_on_with_the_branch(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    first = release.cut(plan, NOTES)
    git(demo.origin, "update-ref", "-d", f"refs/heads/{plan.branch}")
    git(demo.path, "branch", "-D", plan.branch)
    assert release.cut_status(plan) == "not_done"
    again = release.cut(plan, NOTES)
    assert again.pushed and again.commit == first.commit
    assert git(demo.origin, "rev-parse", plan.branch) == first.commit


def test_tag_on_remote_at_another_commit_stops_and_changes_nothing(demo: DemoRepo, tmp_path: Path) -> None:
    head = git(demo.path, "rev-parse", "HEAD")
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    other = other_clone(demo, tmp_path)
    git(other, "tag", "-a", "-m", "someone else", plan.tag, "origin/main")
    git(other, "push", "--quiet", "origin", plan.tag)
    local_refs, remote_refs = all_refs(demo.path), all_refs(demo.origin)
    with pytest.raises(GitReleaseError, match=r"tag v1\.4\.0 already exists on origin at .*nothing was changed"):
        release.cut(plan, NOTES)
    with pytest.raises(GitReleaseError, match="already exists on origin"):
        release.cut_status(plan)
    assert all_refs(demo.path) == local_refs
    assert all_refs(demo.origin) == remote_refs
    assert_captain_untouched(demo, head)


def test_rejected_push_is_reported_and_leaves_nothing_behind(demo: DemoRepo) -> None:
    hook = demo.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected: releases are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    head = git(demo.path, "rev-parse", "HEAD")
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    local_refs, remote_refs = all_refs(demo.path), all_refs(demo.origin)
    with pytest.raises(GitReleaseError, match="origin rejected the push.*releases are frozen"):
        release.cut(plan, NOTES)
    assert all_refs(demo.path) == local_refs
    assert all_refs(demo.origin) == remote_refs
    assert_captain_untouched(demo, head)
    hook.unlink()
    assert release.cut(plan, NOTES).pushed  # nothing stale blocks a retry


def test_a_foreign_local_branch_with_the_release_name_blocks_the_cut(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    git(demo.path, "branch", plan.branch, "main")
    with pytest.raises(GitReleaseError, match=f"local branch {plan.branch} already exists"):
        release.cut(plan, NOTES)
    assert git(demo.origin, "ls-remote", "--tags", ".", plan.tag) == ""


def test_cut_creates_changelog_when_missing_and_works_without_identity(demo: DemoRepo) -> None:
    git(demo.path, "rm", "--quiet", "CHANGELOG.md")
    git(demo.path, "commit", "--quiet", "-m", "docs: no changelog")
    git(demo.path, "push", "--quiet", "origin", "develop")
    git(demo.path, "config", "--unset", "user.name")
    git(demo.path, "config", "--unset", "user.email")
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    result = release.cut(plan, NOTES)
    assert git(demo.origin, "show", f"{result.commit}:CHANGELOG.md") == NOTES.strip()
    assert "shipdeck <shipdeck@localhost>" in git(demo.origin, "cat-file", "-p", plan.tag)


def test_merge_release_into_main_and_develop_is_idempotent(demo: DemoRepo) -> None:
    head = git(demo.path, "rev-parse", "HEAD")
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    cut = release.cut(plan, NOTES)
    assert release.merge_status(plan) == "not_done"
    merged = release.merge_release(plan)
    assert merged.merged_into == ("main", "develop") and merged.pushed
    tips = {branch: git(demo.origin, "rev-parse", branch) for branch in ("main", "develop")}
    for tip in tips.values():
        assert git(demo.origin, "rev-parse", f"{tip}^2") == cut.commit
    assert release.merge_status(plan) == "done"
    again = release.merge_release(plan)
    assert again.already_done and again.already_merged == ("main", "develop") and not again.pushed
    assert {branch: git(demo.origin, "rev-parse", branch) for branch in tips} == tips
    assert_captain_untouched(demo, head)


def test_hotfix_merges_into_main_and_develop(demo: DemoRepo) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("hotfix", None, TODAY)
    cut = release.cut(plan, "# v1.3.1\n")
    merged = release.merge_release(plan)
    assert merged.merged_into == ("main", "develop")
    for branch in ("main", "develop"):
        git(demo.origin, "merge-base", "--is-ancestor", cut.commit, branch)
    assert git(demo.path, "status", "--porcelain") == ""


def test_merge_conflict_names_files_pushes_nothing_and_keeps_the_work_tree(
    demo: DemoRepo, tmp_path: Path
) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    release.cut(plan, NOTES)
    other = other_clone(demo, tmp_path)
    git(other, "checkout", "--quiet", "main")
    (other / "app" / "tracker.py").write_text("def load(user):\n    return None  # hotfix\n")
    (other / "CHANGELOG.md").write_text("# v1.3.9 (hand-edited)\n")
    git(other, "commit", "--quiet", "-am", "fix: hand-made change on main")
    git(other, "push", "--quiet", "origin", "main")
    head = git(demo.path, "rev-parse", "HEAD")
    remote_refs = all_refs(demo.origin)
    with pytest.raises(GitReleaseError) as error:
        release.merge_release(plan)
    assert "merge conflict, nothing was pushed" in str(error.value)
    assert "app/tracker.py" in str(error.value) and "CHANGELOG.md" in str(error.value)
    assert all_refs(demo.origin) == remote_refs
    assert_captain_untouched(demo, head)
    assert git(demo.path, "worktree", "list").count("\n") == 0


def test_missing_remote_and_unknown_type_are_clear(demo: DemoRepo) -> None:
    with pytest.raises(GitReleaseError, match="remote 'upstream' is not configured"):
        GitRelease(demo.path, remote="upstream").plan_release("regular", None, TODAY)
    with pytest.raises(GitReleaseError, match="unknown release type 'weekly'"):
        GitRelease(demo.path).plan_release("weekly", None, TODAY)
    with pytest.raises(GitReleaseError, match="not a git repository"):
        GitRelease(demo.path / "app")
    assert GitPlan("1.0.0", "v1.0.0", "b", "r", "c", None).release_type == "regular"


def test_credentials_in_remote_urls_are_redacted() -> None:
    text = "fatal: unable to access 'https://x-access-token:ghp_SECRET@github.com/o/r.git/'"
    assert "ghp_SECRET" not in GitRelease._redact(text)


@pytest.mark.parametrize("override", [None, "1.4.0"])
def test_planning_again_after_the_cut_is_a_resume_of_the_same_release(
    demo: DemoRepo, override: str | None
) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    release.cut(plan, NOTES)
    again = GitRelease(demo.path).plan_release("regular", override, TODAY)
    assert again == plan
