"""Release mechanics in git: plan, cut (branch + changelog + tag, one atomic push), merge back.

Everything is built directly on refs and objects (``commit-tree``, ``mktag``,
``merge-tree --write-tree``), so the captain's work tree, index and checked-out branch are
never touched. Local refs are only written after the remote accepted the push, so a
rejected push leaves nothing behind. Pushes are atomic and never forced.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import git

from shipdeck.core.versioning import (
    RELEASE_TYPES,
    Version,
    bump,
    parse_version,
    tag_to_version,
    version_to_tag,
)

__all__ = ["CutResult", "GitPlan", "GitRelease", "GitReleaseError", "MergeResult"]

_FALLBACK_IDENTITY = ("shipdeck", "shipdeck@localhost")
_CHANGELOG = "CHANGELOG.md"
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


class GitReleaseError(Exception):
    """A release step in git cannot go on; the message names the refs and what to do."""


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


@dataclass(frozen=True)
class CutResult:
    branch: str
    tag: str
    commit: str  # the release commit the tag points at
    pushed: bool
    already_done: bool


@dataclass(frozen=True)
class MergeResult:
    branch: str
    merged_into: tuple[str, ...]  # targets that got a merge commit in this call
    already_merged: tuple[str, ...]  # targets that already contained the release branch
    pushed: bool

    @property
    def already_done(self) -> bool:
        return not self.merged_into


@dataclass(frozen=True)
class _RemoteRefs:
    tag_object: str | None
    tag_commit: str | None
    branch_commit: str | None


class GitRelease:
    """Release operations on the repository at ``repo_path`` and its ``remote``."""

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
        self.repo_path = Path(repo_path)
        try:
            self.repo = git.Repo(self.repo_path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitReleaseError(f"{self.repo_path} is not a git repository") from None
        self.remote = remote
        self.main_branch = main_branch
        self.develop_branch = develop_branch
        self.tag_pattern = tag_pattern
        self.branch_pattern = branch_pattern
        self.hotfix_branch_pattern = hotfix_branch_pattern
        version_to_tag("0.0.0", tag_pattern)  # a bad pattern fails here, not mid-release
        self._env = {**os.environ, **self._identity_env()}

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
        self, release_type: str, version_override: str | None, today: dt.date
    ) -> GitPlan:
        """Decide version, tag, branch and base commit; fetches the remote first."""
        if release_type not in RELEASE_TYPES:
            raise GitReleaseError(
                f"unknown release type {release_type!r}; expected one of {', '.join(RELEASE_TYPES)}"
            )
        self.fetch()
        base_name = self.main_branch if release_type == "hotfix" else self.develop_branch
        base_ref, base_commit = self._resolve_branch(base_name)
        newest_tag = self.previous_release_tag()
        if version_override:
            try:
                version = parse_version(version_override)
            except ValueError as error:
                raise GitReleaseError(f"--version: {error}") from None
        elif newest_tag and self._is_release_commit_of(self._peel(f"refs/tags/{newest_tag}"), base_commit):
            # The newest release was cut from this very base: planning again is a resume.
            version = tag_to_version(newest_tag, self.tag_pattern) or Version(0, 0, 0)
        else:
            version = bump(
                tag_to_version(newest_tag, self.tag_pattern) if newest_tag else Version(0, 0, 0),
                release_type,
            )
        existing = self._peel(f"refs/tags/{version_to_tag(version, self.tag_pattern)}")
        resumed = existing is not None and self._is_release_commit_of(existing, base_commit)
        if existing is not None and not resumed:
            raise GitReleaseError(
                f"tag {version_to_tag(version, self.tag_pattern)} already exists at "
                f"{existing[:12]}, which is not a release of {base_ref} ({base_commit[:12]}); "
                f"choose another version with --version"
            )
        previous_tag = self.previous_release_tag(before=str(version)) if resumed else newest_tag
        previous = tag_to_version(previous_tag, self.tag_pattern) if previous_tag else None
        if not resumed and previous is not None and not version > previous:
            raise GitReleaseError(
                f"--version {version} is not greater than the previous release "
                f"{previous_tag}; pick a version above {previous}"
            )
        tag = version_to_tag(version, self.tag_pattern)
        pattern = self.hotfix_branch_pattern if release_type == "hotfix" else self.branch_pattern
        branch = pattern.replace("{date}", today.isoformat()).replace("{version}", str(version))
        plan = GitPlan(str(version), tag, branch, base_ref, base_commit, previous_tag, release_type)
        self._check_existing_tag(plan)
        return plan

    def _check_existing_tag(self, plan: GitPlan) -> None:
        """An existing tag is fine only when it is this release, resumed."""
        remote = self._remote_refs(plan)
        local_commit = self._peel(f"refs/tags/{plan.tag}")
        for where, commit in ((self.remote, remote.tag_commit), ("this clone", local_commit)):
            if commit is not None and not self._is_release_commit_of(commit, plan.base_commit):
                raise GitReleaseError(
                    f"tag {plan.tag} already exists in {where} at {commit[:12]}, which is not a "
                    f"release of {plan.base_ref} ({plan.base_commit[:12]}); choose another "
                    f"version with --version, or delete the stray tag if it was a mistake"
                )

    # -- cutting ------------------------------------------------------------------------

    def cut_status(self, plan: GitPlan) -> str:
        """"done" when branch and tag are on the remote where the plan puts them, else "not_done".

        Raises:
            GitReleaseError: the tag or branch exists on the remote somewhere else.
        """
        remote = self._remote_refs(plan, fetch=True)
        self._check_remote_conflicts(plan, remote)
        return "done" if remote.tag_commit and remote.branch_commit else "not_done"

    def cut(self, plan: GitPlan, notes_markdown: str) -> CutResult:
        """Create the release branch (with CHANGELOG.md) and the annotated tag; push both atomically."""
        remote = self._remote_refs(plan, fetch=True)
        self._check_remote_conflicts(plan, remote)
        if remote.tag_commit and remote.branch_commit:
            self._record_locally(plan, remote.branch_commit, remote.tag_object)
            return CutResult(plan.branch, plan.tag, remote.tag_commit, False, True)

        local_tag_commit = self._peel(f"refs/tags/{plan.tag}")
        if local_tag_commit is not None and not self._is_release_commit_of(local_tag_commit, plan.base_commit):
            raise GitReleaseError(
                f"a local tag {plan.tag} exists at {local_tag_commit[:12]}, not on "
                f"{plan.base_ref}; delete it (git tag -d {plan.tag}) or choose another version"
            )
        commit = (
            remote.tag_commit
            or remote.branch_commit
            or local_tag_commit
            or self._release_commit(plan, notes_markdown)
        )
        local_branch = self._peel(f"refs/heads/{plan.branch}")
        if local_branch is not None and local_branch != commit:
            raise GitReleaseError(
                f"a local branch {plan.branch} already exists at {local_branch[:12]}; rename or "
                f"delete it (git branch -m/-D {plan.branch}) so the release branch can be created"
            )
        tag_object = remote.tag_object or self._local_tag_object(plan.tag)
        if tag_object is None:
            tag_object = self._make_tag(plan, commit, notes_markdown)
        refspecs = []
        if remote.branch_commit is None:
            refspecs.append(f"{commit}:refs/heads/{plan.branch}")
        if remote.tag_commit is None:
            refspecs.append(f"{tag_object}:refs/tags/{plan.tag}")
        self._push(refspecs, what=f"{plan.branch} and {plan.tag}")
        self._record_locally(plan, commit, tag_object)
        return CutResult(plan.branch, plan.tag, commit, True, False)

    def _check_remote_conflicts(self, plan: GitPlan, remote: _RemoteRefs) -> None:
        if remote.tag_commit and not self._is_release_commit_of(remote.tag_commit, plan.base_commit):
            raise GitReleaseError(
                f"tag {plan.tag} already exists on {self.remote} at {remote.tag_commit[:12]}, "
                f"not on {plan.base_ref} ({plan.base_commit[:12]}); nothing was changed. Choose "
                f"another version, or remove the stray tag on {self.remote} if it was a mistake"
            )
        if remote.branch_commit:
            expected = remote.tag_commit
            branch_ok = (
                self._is_ancestor(expected, remote.branch_commit)
                if expected
                else self._is_release_commit_of(remote.branch_commit, plan.base_commit)
            )
            if not branch_ok:
                raise GitReleaseError(
                    f"branch {plan.branch} already exists on {self.remote} at "
                    f"{remote.branch_commit[:12]}, which is not this release cut from "
                    f"{plan.base_ref} ({plan.base_commit[:12]}); nothing was changed. Rename it on "
                    f"{self.remote} or change the branch pattern"
                )

    def _is_release_commit_of(self, commit: str | None, base_commit: str) -> bool:
        """A commit made directly on top of the base: the release's CHANGELOG commit.

        The base itself does not count: a tag there is an earlier release (a hotfix cut from
        main sits right on the last release tag).
        """
        if commit is None or commit == base_commit:
            return False
        parents = self._git("rev-list", "--parents", "-n", "1", commit).split()[1:]
        return parents[:1] == [base_commit]

    def _release_commit(self, plan: GitPlan, notes_markdown: str) -> str:
        """base_commit plus the notes prepended to CHANGELOG.md, as a commit on no branch."""
        old = self._run(["cat-file", "blob", f"{plan.base_commit}:{_CHANGELOG}"], check=False)
        previous_text = old.stdout if old.returncode == 0 else ""
        notes = notes_markdown.rstrip("\n") + "\n"
        content = notes + ("\n" + previous_text if previous_text else "")
        blob = self._git("hash-object", "-w", "--stdin", stdin=content)
        entries = [
            line for line in self._git("ls-tree", plan.base_commit).splitlines()
            if line.split("\t", 1)[1] != _CHANGELOG
        ]
        entries.append(f"100644 blob {blob}\t{_CHANGELOG}")
        tree = self._git("mktree", stdin="\n".join(entries) + "\n")
        message = f"chore(release): {plan.tag}\n\nRelease notes for {plan.tag} in {_CHANGELOG}.\n"
        return self._git("commit-tree", tree, "-p", plan.base_commit, stdin=message)

    def _make_tag(self, plan: GitPlan, commit: str, notes_markdown: str) -> str:
        tagger = self._git("var", "GIT_COMMITTER_IDENT")
        body = (
            f"object {commit}\ntype commit\ntag {plan.tag}\ntagger {tagger}\n\n"
            f"{plan.tag}\n\n{notes_markdown.rstrip()}\n"
        )
        return self._git("mktag", stdin=body)

    def _record_locally(self, plan: GitPlan, commit: str, tag_object: str | None) -> None:
        """Mirror what the remote now has; never moves an existing ref (no force)."""
        if self._peel(f"refs/heads/{plan.branch}") is None:
            self._git("update-ref", f"refs/heads/{plan.branch}", commit, "0" * 40)
        if tag_object and self._peel(f"refs/tags/{plan.tag}") is None:
            self._git("update-ref", f"refs/tags/{plan.tag}", tag_object, "0" * 40)

    def _local_tag_object(self, tag: str) -> str | None:
        result = self._run(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], check=False)
        return result.stdout.strip() or None

    # -- merging back -------------------------------------------------------------------

    def merge_release(self, plan: GitPlan) -> MergeResult:
        """Merge the release branch into main (and develop for a hotfix) and push atomically.

        Raises:
            GitReleaseError: a merge conflicts (names target and files; nothing is pushed),
                or the push is rejected.
        """
        self.fetch()
        _, source = self._resolve_branch(plan.branch)
        targets = [self.main_branch]
        if plan.release_type == "hotfix":
            targets.append(self.develop_branch)
        merges: list[tuple[str, str]] = []
        already: list[str] = []
        conflicts: list[str] = []
        for target in targets:
            target_ref, target_commit = self._resolve_branch(target)
            if self._is_ancestor(source, target_commit):
                already.append(target)
                continue
            result = self._run(
                ["merge-tree", "--write-tree", "--name-only", "--no-messages", target_commit, source],
                check=False,
            )
            lines = result.stdout.splitlines()
            if result.returncode == 1:
                files = ", ".join(dict.fromkeys(lines[1:])) or "(unknown files)"
                conflicts.append(f"{plan.branch} into {target_ref}: {files}")
                continue
            if result.returncode != 0 or not lines:
                raise GitReleaseError(
                    f"git merge-tree {plan.branch} into {target_ref} failed: "
                    f"{self._redact(result.stderr.strip())}"
                )
            message = f"Merge branch '{plan.branch}' into {target}\n\nRelease {plan.tag}.\n"
            merge_commit = self._git(
                "commit-tree", lines[0], "-p", target_commit, "-p", source, stdin=message
            )
            merges.append((target, merge_commit))
        if conflicts:
            raise GitReleaseError(
                "merge conflict, nothing was pushed: "
                + "; ".join(conflicts)
                + ". Resolve it in a pull request from the release branch, then rerun the merge"
            )
        if merges:
            self._push(
                [f"{commit}:refs/heads/{target}" for target, commit in merges],
                what=f"merge of {plan.branch} into {', '.join(t for t, _ in merges)}",
            )
        return MergeResult(plan.branch, tuple(t for t, _ in merges), tuple(already), bool(merges))

    # -- plumbing -----------------------------------------------------------------------

    def fetch(self) -> None:
        """Update remote-tracking branches and add the remote's tags (never overwriting one)."""
        if self.remote not in self._git("remote").split():
            raise GitReleaseError(
                f"remote {self.remote!r} is not configured in {self.repo_path} (see git remote -v)"
            )
        refspecs = [
            f"+refs/heads/*:refs/remotes/{self.remote}/*",
            "refs/tags/*:refs/tags/*",
        ]
        result = self._run(["fetch", "--quiet", "--no-tags", self.remote, *refspecs], check=False)
        if result.returncode != 0:
            raise GitReleaseError(
                f"git fetch {self.remote} failed: {self._redact(result.stderr.strip())}. A local "
                f"tag that differs from {self.remote}'s must be deleted (git tag -d NAME) first"
            )

    def _resolve_branch(self, name: str) -> tuple[str, str]:
        """(ref, commit) for a branch: the remote-tracking one after a fetch, else the local one."""
        for ref in (f"refs/remotes/{self.remote}/{name}", f"refs/heads/{name}"):
            commit = self._peel(ref)
            if commit is not None:
                return ref, commit
        raise GitReleaseError(
            f"branch {name!r} exists neither on {self.remote} nor locally in {self.repo_path}"
        )

    def _remote_refs(self, plan: GitPlan, *, fetch: bool = False) -> _RemoteRefs:
        tag_ref, branch_ref = f"refs/tags/{plan.tag}", f"refs/heads/{plan.branch}"
        result = self._run(
            ["ls-remote", self.remote, tag_ref, f"{tag_ref}^{{}}", branch_ref], check=False
        )
        if result.returncode != 0:
            raise GitReleaseError(
                f"cannot read refs from {self.remote}: {self._redact(result.stderr.strip())}"
            )
        found = {ref: sha for sha, ref in (line.split("\t", 1) for line in result.stdout.splitlines())}
        tag_object = found.get(tag_ref)
        refs = _RemoteRefs(
            tag_object, found.get(f"{tag_ref}^{{}}", tag_object), found.get(branch_ref)
        )
        if fetch and (refs.tag_object or refs.branch_commit):
            # Objects only (FETCH_HEAD); local refs are written after the checks passed.
            wanted = [ref for ref, sha in ((tag_ref, tag_object), (branch_ref, refs.branch_commit)) if sha]
            self._git("fetch", "--quiet", "--no-tags", self.remote, *wanted)
        return refs

    def _push(self, refspecs: list[str], *, what: str) -> None:
        if not refspecs:
            return
        result = self._run(["push", "--atomic", "--porcelain", self.remote, *refspecs], check=False)
        if result.returncode != 0:
            detail = self._redact((result.stderr + result.stdout).strip())
            raise GitReleaseError(
                f"{self.remote} rejected the push of {what}; nothing was changed there or "
                f"here (atomic push). Git said: {detail}"
            )

    def _peel(self, ref: str) -> str | None:
        result = self._run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        return result.stdout.strip() or None

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._run(["merge-base", "--is-ancestor", ancestor, descendant], check=False).returncode == 0

    def _identity_env(self) -> dict[str, str]:
        """Committer identity: the repository's own, else a fixed fallback (CI has none)."""
        env: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
        for key, variables, fallback in (
            ("user.name", ("GIT_COMMITTER_NAME", "GIT_AUTHOR_NAME"), _FALLBACK_IDENTITY[0]),
            ("user.email", ("GIT_COMMITTER_EMAIL", "GIT_AUTHOR_EMAIL"), _FALLBACK_IDENTITY[1]),
        ):
            configured = subprocess.run(
                ["git", "-C", str(self.repo_path), "config", "--get", key],
                capture_output=True, text=True, check=False,
            ).stdout.strip()
            if not configured:
                env.update({name: os.environ.get(name) or fallback for name in variables})
        return env

    def _run(
        self, args: list[str], *, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git", "-C", str(self.repo_path), *args],
            input=stdin, capture_output=True, text=True, env=self._env, check=False,
        )
        if check and result.returncode != 0:
            raise GitReleaseError(
                f"git {args[0]} failed in {self.repo_path}: {self._redact(result.stderr.strip())}"
            )
        return result

    def _git(self, *args: str, stdin: str | None = None) -> str:
        return self._run(list(args), stdin=stdin).stdout.strip()

    @staticmethod
    def _redact(text: str) -> str:
        """Remote URLs can carry tokens (https://x-access-token:…@host); never show them."""
        return _URL_CREDENTIALS.sub(r"\1***@", text)
