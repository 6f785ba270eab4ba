"""Planning a release in git: version, tag, branch name, base commit and previous release.

The plan is journaled before anything is pushed, so every decision here (including a branch
name made unique) is made once and a resume reuses it. Every refusal is a `ReleasePlanError`
(exit 2); "nothing new since the last finished release" is `NothingToRelease` (exit 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .git_repo import (
    GitReleaseError,
    GitRepository,
    NothingToRelease,
    ReleasePlanError,
)
from ..versioning import (
    RELEASE_TYPES,
    Version,
    bump,
    parse_version,
    tag_to_version,
    version_to_tag,
)

__all__ = ["GitPlan", "ReleasePlanner"]


@dataclass(frozen=True)
class GitPlan:
    """What a release will create: journaled before the cut so a resume uses the same plan."""

    version: str
    tag: str
    branch: str
    base_ref: str
    base_commit: str
    previous_tag: str | None
    release_type: str = "regular"


class ReleasePlanner(GitRepository):
    """Reads release tags and plans the next release of the repository at ``repo_path``."""

    def __init__(
        self,
        repo_path: Path | str,
        *,
        remote: str = "origin",
        main_branch: str = "main",
        develop_branch: str = "develop",
        tag_pattern: str = "v{version}",
        branch_pattern: str = "release/{date}",
        hotfix_branch_pattern: str = "hotfix/{version}",
    ) -> None:
        super().__init__(repo_path, remote=remote)
        self.main_branch = main_branch
        self.develop_branch = develop_branch
        self.tag_pattern = tag_pattern
        self.branch_pattern = branch_pattern
        self.hotfix_branch_pattern = hotfix_branch_pattern
        version_to_tag("0.0.0", tag_pattern)  # a bad pattern fails here, not mid-release

    # -- reading ------------------------------------------------------------------------

    def release_tags(self, include_prereleases: bool = False) -> list[str]:
        """Local tags matching the tag pattern, newest version first (v1.10.0 before v1.9.0)."""
        names = self._git("for-each-ref", "--format=%(refname:strip=2)", "refs/tags").split()
        versioned: list[tuple[Version, str]] = []
        for name in names:
            version = tag_to_version(name, self.tag_pattern)
            if version is not None and (include_prereleases or not version.is_prerelease):
                versioned.append((version, name))
        versioned.sort(key=lambda pair: pair[0], reverse=True)
        return [name for _, name in versioned]

    def previous_release_tag(
        self, include_prereleases: bool = False, *, before: str | None = None
    ) -> str | None:
        """The newest release tag, or the newest one older than version ``before``."""
        ceiling = parse_version(before) if before else None
        for name in self.release_tags(include_prereleases):
            version = tag_to_version(name, self.tag_pattern)
            if ceiling is None or (version is not None and version < ceiling):
                return name
        return None

    # -- planning -----------------------------------------------------------------------

    def plan_release(
        self,
        release_type: str,
        version_override: str | None,
        today: dt.date,
        *,
        last_released: str | None = None,
        finished_tags: Collection[str] = (),
        shipped_tags: Collection[str] | None = None,
    ) -> GitPlan:
        """Decide version, tag, branch and base commit; fetches the remote first.

        Args:
            release_type: regular, hotfix or major.
            version_override: ``--version``; must be above every release tag and unused.
            today: the date in the branch name.
            last_released: the last tag shipdeck's journals say was released healthy: the
                plan's previous release (notes lower bound, compare link, rollback target).
                None when there are no records yet: the newest release tag is used.
            finished_tags: tags whose release is over in the journals (released, rolled back,
                failed, aborted); such a tag is never resumed nor released again.
            shipped_tags: the finished tags that reached production (released, or rolled back);
                "nothing to release" is judged against these, so after a release that failed
                before production changed the same work can be released again under a new
                version. Defaults to `finished_tags`.

        Raises:
            NothingToRelease: the base branch has nothing new since the newest shipped release.
            ReleasePlanError: any other refusal (bad version, version taken or not above the
                newest release, missing base branch, branch or tag clash, unknown type).
            GitReleaseError: git itself failed (fetch, a stale lock file).
        """
        if release_type not in RELEASE_TYPES:
            raise ReleasePlanError(
                f"unknown release type {release_type!r}; expected one of {', '.join(RELEASE_TYPES)}"
            )
        self.fetch()
        base_name = self.main_branch if release_type == "hotfix" else self.develop_branch
        base_ref, base_commit = self._resolve_base(base_name)
        finished = frozenset(finished_tags)
        newest_tag = self.previous_release_tag()
        newest = tag_to_version(newest_tag, self.tag_pattern) if newest_tag else None
        version = self._choose_version(release_type, version_override, base_commit, newest_tag, finished)
        tag = version_to_tag(version, self.tag_pattern)
        existing = self._peel(f"refs/tags/{tag}")
        resumed = existing is not None and tag not in finished and self._is_release_commit_of(existing, base_commit)
        suggestion = f"choose a version above {newest}, e.g. --version {bump(newest or Version(0, 0, 0), release_type)}"
        if existing is not None and tag in finished:
            raise ReleasePlanError(
                f"{tag} was already released: shipdeck's records say its release is over "
                f"(tag at {existing[:12]}); a version is released only once, {suggestion}"
            )
        if existing is not None and not resumed:
            raise ReleasePlanError(
                f"tag {tag} already exists at {existing[:12]}, which is not a release of "
                f"{base_ref} ({base_commit[:12]}); {suggestion}"
            )
        if not resumed:
            shipped = finished if shipped_tags is None else frozenset(shipped_tags)
            self._refuse_nothing_new(base_name, base_commit, shipped)
            if newest is not None and not version > newest:
                raise ReleasePlanError(
                    f"--version {version} is not greater than {newest_tag}, the newest release; "
                    f"pick a version above {newest}"
                )
        previous_tag = self._previous_tag(last_released, version, resumed, newest_tag)
        branch = self._unique_branch(release_type, version, tag, today, base_ref, base_commit)
        plan = GitPlan(str(version), tag, branch, base_ref, base_commit, previous_tag, release_type)
        self._check_existing_tag(plan)
        return plan

    def _resolve_base(self, name: str) -> tuple[str, str]:
        try:
            return self._resolve_branch(name)
        except GitReleaseError as error:
            key = "main_branch" if name == self.main_branch else "develop_branch"
            raise ReleasePlanError(f"{error}; [project] {key} in shipdeck.toml names it") from None

    def _choose_version(
        self,
        release_type: str,
        version_override: str | None,
        base_commit: str,
        newest_tag: str | None,
        finished: frozenset[str],
    ) -> Version:
        if version_override:
            try:
                return parse_version(version_override)
            except ValueError as error:
                raise ReleasePlanError(f"--version: {error}") from None
        newest = tag_to_version(newest_tag, self.tag_pattern) if newest_tag else None
        if (
            newest_tag is not None
            and newest is not None
            and newest_tag not in finished
            and self._is_release_commit_of(self._peel(f"refs/tags/{newest_tag}"), base_commit)
        ):
            return newest  # the newest release was cut from this very base: a resume
        return bump(newest or Version(0, 0, 0), release_type)

    def _refuse_nothing_new(self, base_name: str, base_commit: str, finished: frozenset[str]) -> None:
        """Raise NothingToRelease when the newest finished release already has the base's work.

        "Nothing new" also covers a base that only gained merge commits since: the merge
        back of that very release (git-flow), or of a hotfix it contains.
        """
        finished_versions = [
            (version, tag) for tag in finished
            if (version := tag_to_version(tag, self.tag_pattern)) is not None
        ]
        for _, tag in sorted(finished_versions, reverse=True):
            tag_commit = self._peel(f"refs/tags/{tag}")
            if tag_commit is None:
                continue  # a record of a tag this clone does not have says nothing about it
            new_work = self._git("rev-list", "--no-merges", "-n", "1", f"{tag_commit}..{base_commit}")
            if not new_work:
                raise NothingToRelease(
                    f"nothing new on {base_name} since {tag} ({tag_commit[:12]}): nothing to release"
                )
            return

    def _previous_tag(
        self, last_released: str | None, version: Version, resumed: bool, newest_tag: str | None
    ) -> str | None:
        if last_released is None:  # no records yet: the tags are all there is to go by
            return self.previous_release_tag(before=str(version)) if resumed else newest_tag
        if self._peel(f"refs/tags/{last_released}") is None:
            raise ReleasePlanError(
                f"shipdeck's records say {last_released} was the last healthy release, but neither "
                f"{self.repo_path} nor {self.remote} has that tag; restore it (it is the rollback "
                f"target and the notes' lower bound)"
            )
        return last_released

    def _unique_branch(
        self, release_type: str, version: Version, tag: str, today: dt.date, base_ref: str, base_commit: str
    ) -> str:
        """The branch pattern's name, or ``<name>-<tag>`` when another release took it."""
        pattern = self.hotfix_branch_pattern if release_type == "hotfix" else self.branch_pattern
        name = pattern.replace("{date}", today.isoformat()).replace("{version}", str(version))
        candidates = [name] if "{version}" in pattern else [name, f"{name}-{tag}"]
        on_remote = self._ls_remote([f"refs/heads/{candidate}" for candidate in candidates])
        self._fetch_objects(on_remote)
        for candidate in candidates:
            holders = (on_remote.get(f"refs/heads/{candidate}"), self._peel(f"refs/heads/{candidate}"))
            if all(commit is None or self._is_branch_of(commit, tag, base_commit) for commit in holders):
                return candidate
        raise ReleasePlanError(
            f"branch {' and '.join(candidates)} already exist(s) on {self.remote} or in this clone "
            f"for something other than {tag} from {base_ref} ({base_commit[:12]}); nothing was "
            f"changed. Rename or delete that branch, or put {{version}} in [release] branch_pattern"
        )

    def _is_branch_of(self, branch_commit: str, tag: str, base_commit: str) -> bool:
        """A branch holding this release: it contains the tag, or (before the tag) its commit."""
        tag_commit = self._peel(f"refs/tags/{tag}")
        if tag_commit is not None:
            return self._is_ancestor(tag_commit, branch_commit)
        return self._is_release_commit_of(branch_commit, base_commit)

    def _check_existing_tag(self, plan: GitPlan) -> None:
        """An existing tag is fine only when it is this release, resumed."""
        tag_ref = f"refs/tags/{plan.tag}"
        on_remote = self._ls_remote([tag_ref])
        self._fetch_objects(on_remote)
        remote_commit = on_remote.get(f"{tag_ref}^{{}}", on_remote.get(tag_ref))
        for where, commit in ((self.remote, remote_commit), ("this clone", self._peel(tag_ref))):
            if commit is not None and not self._is_release_commit_of(commit, plan.base_commit):
                raise ReleasePlanError(
                    f"tag {plan.tag} already exists in {where} at {commit[:12]}, which is not a "
                    f"release of {plan.base_ref} ({plan.base_commit[:12]}); choose another "
                    f"version with --version, or delete the stray tag if it was a mistake"
                )

    # -- shared with the cut ------------------------------------------------------------

    def _resolve_branch(self, name: str) -> tuple[str, str]:
        """(ref, commit) for a branch: the remote-tracking one after a fetch, else the local one."""
        for ref in (f"refs/remotes/{self.remote}/{name}", f"refs/heads/{name}"):
            commit = self._peel(ref)
            if commit is not None:
                return ref, commit
        raise GitReleaseError(
            f"branch {name!r} exists neither on {self.remote} nor locally in {self.repo_path}"
        )

    def _is_release_commit_of(self, commit: str | None, base_commit: str) -> bool:
        """A commit made directly on top of the base: the release's CHANGELOG commit.

        The base itself does not count: a tag there is an earlier release (a hotfix cut from
        main sits right on the last release tag).
        """
        if commit is None or commit == base_commit:
            return False
        return self._first_parent(commit) == base_commit
