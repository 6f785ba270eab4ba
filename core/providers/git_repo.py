"""Git plumbing shared by the release mechanics: run git, read refs here and on the remote.

Reconciliation asks the remote (``git ls-remote``) rather than local remote-tracking refs, and
fetches objects without writing any ref, so a stale ref lock left by a killed git cannot turn
an answer about the remote into a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import git

from .base import ProviderError
from .git_locks import clear_stale_locks, lock_in_message, stale_lock_hint

__all__ = ["GitReleaseError", "GitRepository", "NothingToRelease", "ReleasePlanError"]

_FALLBACK_IDENTITY = ("shipdeck", "shipdeck@localhost")
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_MAX_DETAIL = 300


class GitReleaseError(ProviderError):
    """A release step in git cannot go on; the message names the refs and what to do."""


class ReleasePlanError(GitReleaseError):
    """Planning refused the release (bad version, tag or branch clash, missing branch): exit 2."""


class NothingToRelease(ReleasePlanError):
    """The base branch has nothing new since the last finished release (exit 0, a message)."""


class GitRepository:
    """A clone at ``repo_path`` and its ``remote``; every git call goes through here."""

    def __init__(self, repo_path: Path | str, *, remote: str = "origin") -> None:
        self.repo_path = Path(repo_path)
        try:
            self.repo = git.Repo(self.repo_path)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise GitReleaseError(f"{self.repo_path} is not a git repository") from None
        self.remote = remote
        self._env = {**os.environ, **self._identity_env()}

    # -- the remote ---------------------------------------------------------------------

    def fetch(self) -> None:
        """Update remote-tracking branches and add the remote's tags (never overwriting one).

        Raises:
            ReleasePlanError: the remote is not configured.
            GitReleaseError: the fetch failed; a stale lock file is named as such.
        """
        self._require_remote()
        refspecs = [f"+refs/heads/*:refs/remotes/{self.remote}/*", "refs/tags/*:refs/tags/*"]
        result = self._run(["fetch", "--quiet", "--no-tags", self.remote, *refspecs], check=False)
        if result.returncode != 0:
            lock = lock_in_message(result.stderr)
            if lock is not None:
                raise GitReleaseError(f"git fetch {self.remote} failed: {stale_lock_hint(lock, self.repo_path)}")
            raise GitReleaseError(
                f"git fetch {self.remote} failed: {self._detail(result.stderr)}. A local tag that "
                f"differs from {self.remote}'s must be deleted (git tag -d NAME) first"
            )

    def clear_stale_locks(self, older_than: float) -> list[str]:
        """Remove ref lock files a killed git left, if older than ``older_than`` (Unix time).

        Call it only after taking over a dead holder's release lock, with the takeover time:
        locks from before are the dead run's; newer ones may belong to a running git and
        stay. Worktrees are handled (refs live in the common git dir).

        Returns:
            The lock files removed (absolute paths), for the journal.
        """
        common_dir = self.repo_path / self._git("rev-parse", "--git-common-dir")
        git_dir = self.repo_path / self._git("rev-parse", "--git-dir")
        return clear_stale_locks(common_dir.resolve(), git_dir.resolve(), self.remote, older_than)

    def _require_remote(self) -> None:
        if self.remote not in self._git("remote").split():
            raise ReleasePlanError(
                f"remote {self.remote!r} is not configured in {self.repo_path} (see git remote -v); "
                f"[project] remote in shipdeck.toml names it"
            )

    def _ls_remote(self, refs: list[str]) -> dict[str, str]:
        """{ref: sha} on the remote for exactly these refs; annotated tags also as ``ref^{}``."""
        wanted = [*refs, *(f"{ref}^{{}}" for ref in refs if ref.startswith("refs/tags/"))]
        result = self._run(["ls-remote", self.remote, *wanted], check=False)
        if result.returncode != 0:
            raise GitReleaseError(f"cannot read refs from {self.remote}: {self._detail(result.stderr)}")
        found: dict[str, str] = {}
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref in wanted:  # ls-remote matches patterns by their tail; keep exact names
                found[ref] = sha
        return found

    def _fetch_objects(self, refs: dict[str, str]) -> None:
        """Make the commits ``refs`` point at (per ls-remote) present here, writing no ref.

        ``--refmap=`` stops the opportunistic update of remote-tracking refs and
        ``--no-write-fetch-head`` the FETCH_HEAD write, so no lock file is involved.

        Raises:
            GitReleaseError: the fetch failed, or the remote moved between the two reads.
        """
        missing = {ref: sha for ref, sha in refs.items() if not self._has_object(sha)}
        if not missing:
            return
        names = sorted({ref.removesuffix("^{}") for ref in missing})
        result = self._run(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance",
             "--refmap=", self.remote, *names],
            check=False,
        )
        if result.returncode != 0:
            raise GitReleaseError(
                f"cannot fetch {', '.join(names)} from {self.remote}: {self._detail(result.stderr)}"
            )
        still_missing = [ref for ref, sha in missing.items() if not self._has_object(sha)]
        if still_missing:
            raise GitReleaseError(
                f"{', '.join(still_missing)} moved on {self.remote} while shipdeck read it; run the step again"
            )

    # -- local objects and refs ---------------------------------------------------------

    def _has_object(self, sha: str) -> bool:
        return self._run(["cat-file", "-e", f"{sha}^{{commit}}"], check=False).returncode == 0

    def _peel(self, ref: str) -> str | None:
        result = self._run(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], check=False)
        return result.stdout.strip() or None

    def _first_parent(self, commit: str) -> str | None:
        result = self._run(["rev-list", "--parents", "-n", "1", commit], check=False)
        parents = result.stdout.split()[1:2] if result.returncode == 0 else []
        return parents[0] if parents else None

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._run(["merge-base", "--is-ancestor", ancestor, descendant], check=False).returncode == 0

    # -- running git --------------------------------------------------------------------

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
            raise GitReleaseError(f"git {args[0]} failed in {self.repo_path}: {self._detail(result.stderr)}")
        return result

    def _git(self, *args: str, stdin: str | None = None) -> str:
        return self._run(list(args), stdin=stdin).stdout.strip()

    def _detail(self, stderr: str) -> str:
        """Git's complaint, short and without credentials; a stale lock is explained."""
        lock = lock_in_message(stderr)
        if lock is not None:
            return stale_lock_hint(lock, self.repo_path)
        lines = [line.strip() for line in stderr.splitlines()]
        kept = [line for line in lines if line and not line.startswith("hint:")][:3]
        text = self._redact(" ".join(kept))
        return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"

    @staticmethod
    def _redact(text: str) -> str:
        """Remote URLs can carry tokens (https://x-access-token:…@host); never show them."""
        return _URL_CREDENTIALS.sub(r"\1***@", text)
