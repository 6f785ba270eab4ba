"""Release after release in one repository: merge-back, planning from shipdeck's records,
nothing to release, versions released once, unique release branch names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.git import (
    GitRelease,
    GitReleaseError,
    NothingToRelease,
    ReleasePlanError,
)
from shipdeck.core.sandbox.demo_repo import DemoRepo, build_demo_repo

from git_support import all_refs, git, land_commit, other_clone

TODAY = dt.date(2025, 10, 13)


@pytest.fixture
def demo(tmp_path: Path) -> DemoRepo:
    return build_demo_repo(tmp_path / "demo")


@pytest.fixture
def dev(demo: DemoRepo, tmp_path: Path) -> Path:
    """A developer's clone that lands commits on develop and main."""
    return other_clone(demo, tmp_path, "dev")


def notes_for(tag: str) -> str:
    return f"# {tag}\n\n## New Features\n- work for {tag}\n"


def test_the_errors_are_provider_errors_the_cli_can_tell_apart() -> None:
    assert issubclass(GitReleaseError, ProviderError)
    assert issubclass(ReleasePlanError, GitReleaseError)
    assert issubclass(NothingToRelease, ReleasePlanError)
    names = [cls.__name__ for cls in (GitReleaseError, ReleasePlanError, NothingToRelease)]
    assert names == ["GitReleaseError", "ReleasePlanError", "NothingToRelease"]


def test_releases_in_a_row_merge_back_without_conflicts(demo: DemoRepo, dev: Path) -> None:
    release = GitRelease(demo.path)
    last_released, finished = "v1.3.0", ["v1.3.0"]
    expected = ["v1.4.0", "v1.5.0", "v1.6.0", "v1.6.1", "v1.7.0"]
    for number, release_type in enumerate(["regular", "regular", "regular", "hotfix", "regular"]):
        base = "main" if release_type == "hotfix" else "develop"
        if number:  # the demo's develop already has work for the first release
            land_commit(dev, base, f"app/change{number}.py", f"N = {number}\n", f"feat: change {number}")
        plan = release.plan_release(release_type, None, TODAY + dt.timedelta(days=number),
                                    last_released=last_released, finished_tags=finished)
        assert (plan.tag, plan.previous_tag) == (expected[number], last_released)
        cut = release.cut(plan, notes_for(plan.tag))
        merged = release.merge_release(plan)
        assert merged.merged_into == ("main", "develop"), plan.tag
        for branch in ("main", "develop"):
            git(demo.origin, "merge-base", "--is-ancestor", cut.commit, branch)
        last_released, finished = plan.tag, [*finished, plan.tag]
    for tag in expected:
        for branch in ("main", "develop"):
            assert git(demo.origin, "merge-base", "--is-ancestor", tag, branch, check=False) == ""
    changelog = git(demo.origin, "show", "main:CHANGELOG.md")
    headings = [line for line in changelog.splitlines() if line.startswith("# v")]
    assert headings == ["# v1.7.0", "# v1.6.1", "# v1.6.0", "# v1.5.0", "# v1.4.0",
                        "# v1.3.0 (September 1, 2025)"]
    assert git(demo.origin, "show", "develop:CHANGELOG.md") == changelog


def test_a_rolled_back_release_is_never_the_previous_one_nor_reused(demo: DemoRepo, dev: Path) -> None:
    release = GitRelease(demo.path)
    rolled_back = release.plan_release("regular", None, TODAY, last_released="v1.3.0",
                                       finished_tags=["v1.3.0"])
    release.cut(rolled_back, notes_for("v1.4.0"))  # then deployed and rolled back: not merged
    records = {"last_released": "v1.3.0", "finished_tags": ["v1.3.0", "v1.4.0"]}
    # Without records, the old heuristic takes the same base as a resume of v1.4.0.
    assert release.plan_release("regular", None, TODAY).tag == "v1.4.0"
    with pytest.raises(NothingToRelease, match=r"nothing new on develop since v1\.4\.0 \([0-9a-f]{12}\): nothing to release"):
        release.plan_release("regular", None, TODAY, **records)
    land_commit(dev, "develop", "app/fix.py", "FIXED = True\n", "fix: what broke v1.4.0")
    plan = release.plan_release("regular", None, TODAY, **records)
    assert (plan.tag, plan.previous_tag) == ("v1.5.0", "v1.3.0")
    assert plan.branch == "release/2025-10-13-v1.5.0"  # v1.4.0 holds release/2025-10-13


@pytest.mark.parametrize("new_work", [False, True])
def test_a_finished_version_is_never_released_again(demo: DemoRepo, dev: Path, new_work: bool) -> None:
    release = GitRelease(demo.path)
    first = release.plan_release("regular", None, TODAY, finished_tags=["v1.3.0"])
    release.cut(first, notes_for(first.tag))
    release.merge_release(first)
    if new_work:
        land_commit(dev, "develop", "app/more.py", "MORE = 1\n", "feat: more")
    records = {"last_released": "v1.4.0", "finished_tags": ["v1.3.0", "v1.4.0"]}
    with pytest.raises(ReleasePlanError) as refused:
        release.plan_release("regular", "1.4.0", TODAY, **records)
    assert not isinstance(refused.value, NothingToRelease)
    assert "v1.4.0 was already released" in str(refused.value)
    assert "--version 1.5.0" in str(refused.value)


def test_nothing_new_after_a_merged_release_is_nothing_to_release(demo: DemoRepo, dev: Path) -> None:
    release = GitRelease(demo.path)
    plan = release.plan_release("regular", None, TODAY)
    release.cut(plan, notes_for(plan.tag))
    release.merge_release(plan)  # develop now has a merge commit, and nothing else new
    records = {"last_released": "v1.4.0", "finished_tags": ["v1.4.0"]}
    with pytest.raises(NothingToRelease, match="nothing new on develop since v1.4.0"):
        release.plan_release("regular", None, TODAY, **records)
    with pytest.raises(NothingToRelease, match="nothing new on main since v1.4.0"):
        release.plan_release("hotfix", None, TODAY, **records)
    land_commit(dev, "main", "app/hot.py", "HOT = 1\n", "fix: urgent")
    hotfix = release.plan_release("hotfix", None, TODAY, **records)
    assert (hotfix.tag, hotfix.previous_tag, hotfix.branch) == ("v1.4.1", "v1.4.0", "hotfix/1.4.1")


def test_records_name_a_previous_release_the_repository_lacks(demo: DemoRepo) -> None:
    with pytest.raises(ReleasePlanError, match="v1.2.5 was the last healthy release.*restore it"):
        GitRelease(demo.path).plan_release("regular", None, TODAY, last_released="v1.2.5")


def test_missing_develop_branch_names_the_config_key(demo: DemoRepo) -> None:
    release = GitRelease(demo.path, develop_branch="dev")
    with pytest.raises(ReleasePlanError, match=r"branch 'dev' exists neither.*\[project\] develop_branch"):
        release.plan_release("regular", None, TODAY)
    with pytest.raises(ReleasePlanError, match=r"--version: 'one' is not a semantic version"):
        GitRelease(demo.path).plan_release("regular", "one", TODAY)


def test_second_release_on_the_same_day_gets_its_own_branch(demo: DemoRepo, dev: Path) -> None:
    release = GitRelease(demo.path)
    first = release.plan_release("regular", None, TODAY)
    release.cut(first, notes_for(first.tag))
    release.merge_release(first)
    land_commit(dev, "develop", "app/second.py", "SECOND = 1\n", "feat: second")
    records = {"last_released": "v1.4.0", "finished_tags": ["v1.4.0"]}
    second = release.plan_release("regular", None, TODAY, **records)
    assert (first.branch, second.branch) == ("release/2025-10-13", "release/2025-10-13-v1.5.0")
    cut = release.cut(second, notes_for(second.tag))
    assert git(demo.origin, "rev-parse", second.branch) == cut.commit
    # Planned again before its records say it is over, it is the same release (a resume).
    assert release.plan_release("regular", None, TODAY, **records) == second
    assert release.merge_release(second).merged_into == ("main", "develop")


def test_both_branch_names_taken_is_refused_before_anything_is_pushed(
    demo: DemoRepo, dev: Path
) -> None:
    git(dev, "push", "--quiet", "origin", "origin/main:refs/heads/release/2025-10-13",
        "origin/main:refs/heads/release/2025-10-13-v1.4.0")
    local_refs, remote_refs = all_refs(demo.path), all_refs(demo.origin)
    with pytest.raises(ReleasePlanError, match=r"branch release/2025-10-13 and release/2025-10-13-v1\.4\.0 already exist"):
        GitRelease(demo.path).plan_release("regular", None, TODAY)
    assert all_refs(demo.origin) == remote_refs
    assert set(all_refs(demo.path).splitlines()) - set(local_refs.splitlines()) <= {
        line for line in all_refs(demo.path).splitlines() if line.startswith("refs/remotes/")
    }


def test_a_version_pattern_branch_taken_by_something_else_is_refused(demo: DemoRepo, dev: Path) -> None:
    git(dev, "push", "--quiet", "origin", "origin/develop:refs/heads/hotfix/1.3.1")
    with pytest.raises(ReleasePlanError, match="branch hotfix/1.3.1 already exist"):
        GitRelease(demo.path).plan_release("hotfix", None, TODAY)
