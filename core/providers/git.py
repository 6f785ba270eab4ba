"""Release mechanics in git: plan, cut (branch + changelog + tag, one atomic push), merge back.

Everything is built directly on refs and objects (``commit-tree``, ``mktag``,
``merge-tree --write-tree``), so the captain's work tree, index and checked-out branch are
never touched. Local refs are only written after the remote accepted the push, so a
rejected push leaves nothing behind. Pushes are atomic and never forced. The release branch
merges back into main *and* develop for every release type (git-flow), so develop always has
the release's CHANGELOG.md commit and the next release merges into main without a conflict.

Errors are `GitReleaseError` (a `ProviderError`); refusals while planning are
`ReleasePlanError`, and "nothing new to release" is `NothingToRelease`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .git_planning import GitPlan, ReleasePlanner
from .git_repo import GitReleaseError, NothingToRelease, ReleasePlanError

__all__ = [
    "CutResult",
    "GitPlan",
    "GitRelease",
    "GitReleaseError",
    "MergeResult",
    "NothingToRelease",
    "ReleasePlanError",
]

_CHANGELOG = "CHANGELOG.md"


@dataclass(frozen=True)
class CutResult:
    """What a cut left on the remote; ``already_done`` when a resumed cut found it there."""

    branch: str
    tag: str
    commit: str  # the release commit the tag points at
    pushed: bool
    already_done: bool


@dataclass(frozen=True)
class MergeResult:
    """Which targets got a merge commit in this call and which already had the release."""

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


class GitRelease(ReleasePlanner):
    """Release operations on the repository at ``repo_path`` and its ``remote``.

    Planning (`plan_release`) comes from `ReleasePlanner`; this class cuts and merges back.
    """

    # -- cutting ------------------------------------------------------------------------

    def cut_status(self, plan: GitPlan) -> str:
        """"done" when branch and tag are on the remote where the plan puts them, else "not_done".

        Asks the remote (``git ls-remote``), never local remote-tracking refs, so a stale
        lock left by a killed push cannot change the answer; objects are fetched only when
        missing, without writing a ref.

        Raises:
            GitReleaseError: the tag or branch exists on the remote somewhere else, or the
                remote cannot be read.
        """
        remote = self._remote_refs(plan)
        self._check_remote_conflicts(plan, remote)
        return "done" if remote.tag_commit and remote.branch_commit else "not_done"

    def cut(self, plan: GitPlan, notes_markdown: str) -> CutResult:
        """Create the release branch (with CHANGELOG.md) and the annotated tag; push both atomically.

        Raises:
            GitReleaseError: the tag or branch exists elsewhere (nothing is changed), or the
                push is rejected (atomic: nothing is left behind).
        """
        remote = self._remote_refs(plan)
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

    def merge_targets(self) -> tuple[str, str]:
        """Where a release branch merges back: main and develop, for every release type."""
        return (self.main_branch, self.develop_branch)

    def merge_status(self, plan: GitPlan) -> str:
        """"done" when main and develop on the remote both contain the release, else "not_done".

        Decided from ``git ls-remote`` (objects fetched only when missing, no ref written),
        so a resumed merge step reconciles instead of redoing, whatever local refs say.

        Raises:
            GitReleaseError: the remote cannot be read, or lacks a target or the release.
        """
        source, targets = self._merge_refs(plan)
        done = all(self._is_ancestor(source, commit) for commit in targets.values())
        return "done" if done else "not_done"

    def merge_release(self, plan: GitPlan) -> MergeResult:
        """Merge the release branch into main and develop and push both in one atomic push.

        Reads the remote with ``git ls-remote`` rather than fetching into remote-tracking
        refs. A target that already contains the release is left alone.

        Raises:
            GitReleaseError: a merge conflicts (names target and files; nothing is pushed),
                or the push is rejected.
        """
        source, targets = self._merge_refs(plan)
        merges: list[tuple[str, str]] = []
        already: list[str] = []
        conflicts: list[str] = []
        for target, target_commit in targets.items():
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
                conflicts.append(f"{plan.branch} into {target}: {files}")
                continue
            if result.returncode != 0 or not lines:
                raise GitReleaseError(
                    f"git merge-tree {plan.branch} into {target} failed: {self._detail(result.stderr)}"
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
        self._push(
            [f"{commit}:refs/heads/{target}" for target, commit in merges],
            what=f"merge of {plan.branch} into {', '.join(t for t, _ in merges)}",
        )
        return MergeResult(plan.branch, tuple(t for t, _ in merges), tuple(already), bool(merges))

    def _merge_refs(self, plan: GitPlan) -> tuple[str, dict[str, str]]:
        """(release commit, {target: commit}) as the remote has them, objects present here."""
        branch_ref, tag_ref = f"refs/heads/{plan.branch}", f"refs/tags/{plan.tag}"
        target_refs = {target: f"refs/heads/{target}" for target in self.merge_targets()}
        on_remote = self._ls_remote([branch_ref, tag_ref, *target_refs.values()])
        # A release branch deleted after its merge still has its tag to go by.
        source_ref = branch_ref if branch_ref in on_remote else f"{tag_ref}^{{}}"
        if source_ref not in on_remote:
            raise GitReleaseError(
                f"neither {plan.branch} nor {plan.tag} is on {self.remote}; there is no release to merge"
            )
        missing = [target for target, ref in target_refs.items() if ref not in on_remote]
        if missing:
            raise GitReleaseError(
                f"branch {', '.join(missing)} is not on {self.remote}; the release branch "
                f"{plan.branch} cannot be merged back into it"
            )
        wanted = {ref: on_remote[ref] for ref in (source_ref, *target_refs.values())}
        self._fetch_objects(wanted)
        targets = {target: on_remote[ref] for target, ref in target_refs.items()}
        return on_remote[source_ref], targets

    # -- the remote, for the cut --------------------------------------------------------

    def _remote_refs(self, plan: GitPlan) -> _RemoteRefs:
        """The plan's tag and branch on the remote; their objects are made present here."""
        tag_ref, branch_ref = f"refs/tags/{plan.tag}", f"refs/heads/{plan.branch}"
        found = self._ls_remote([tag_ref, branch_ref])
        self._fetch_objects(found)
        tag_object = found.get(tag_ref)
        return _RemoteRefs(tag_object, found.get(f"{tag_ref}^{{}}", tag_object), found.get(branch_ref))

    def _push(self, refspecs: list[str], *, what: str) -> None:
        if not refspecs:
            return
        result = self._run(["push", "--atomic", "--porcelain", self.remote, *refspecs], check=False)
        if result.returncode != 0:
            raise GitReleaseError(
                f"{self.remote} rejected the push of {what}; nothing was changed there or "
                f"here (atomic push). Git said: {self._detail(result.stderr + result.stdout)}"
            )
