"""Lock files a killed git leaves behind: find the ones a dead run left, explain the rest.

Git writes a ref by creating ``<ref>.lock`` next to it and renaming it into place. A git
killed in between (a crashed ``shipdeck release`` during ``git push`` or ``git fetch``) leaves
the ``.lock`` file, and every later git that wants that ref fails with "File exists".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["clear_stale_locks", "lock_in_message", "stale_lock_hint"]

# Where push and fetch lock refs (relative to the common git dir); only these are cleared.
_REF_FOLDERS = ("refs/heads", "refs/tags")
# Whole-repository lock files written by push/fetch: packed-refs when a ref is deleted or
# packed, shallow in a shallow clone (CI), the reftable stack in repositories that use it.
_COMMON_LOCKS = ("packed-refs.lock", "shallow.lock", "reftable/tables.list.lock")
# Per-worktree ones: git 2.39 writes FETCH_HEAD in place, newer versions may lock it.
_WORKTREE_LOCKS = ("FETCH_HEAD.lock", "shallow.lock")
_LOCK_IN_STDERR = re.compile(r"Unable to create '([^']+\.lock)': File exists")


def clear_stale_locks(common_dir: Path, git_dir: Path, remote: str, older_than: float) -> list[str]:
    """Remove ref lock files last modified before ``older_than`` (a Unix time).

    Only the refs a release touches are looked at: ``refs/heads``, ``refs/tags``,
    ``refs/remotes/<remote>``, plus the repository-wide lock files push and fetch take. A lock
    newer than ``older_than`` may belong to a git that is running now and is never touched.

    Returns:
        The paths removed, sorted.
    """
    candidates: list[Path] = []
    for folder in (*_REF_FOLDERS, f"refs/remotes/{remote}"):
        root = common_dir / folder
        for directory, _, files in os.walk(root):
            candidates.extend(Path(directory) / name for name in files if name.endswith(".lock"))
    candidates.extend(common_dir / name for name in _COMMON_LOCKS)
    candidates.extend(git_dir / name for name in _WORKTREE_LOCKS)
    removed: list[str] = []
    for path in dict.fromkeys(candidates):
        try:
            if path.stat().st_mtime >= older_than:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # not there, or its git finished meanwhile
        removed.append(str(path))
    return sorted(removed)


def lock_in_message(stderr: str) -> str | None:
    """The lock file a failed git command could not create, if that is why it failed."""
    match = _LOCK_IN_STDERR.search(stderr)
    return match.group(1) if match else None


def stale_lock_hint(lock_path: str, repo: Path) -> str:
    """A short explanation of a lock-file failure and what to do about it."""
    return (
        f"the lock file {lock_path} exists: it is left by a git that was killed (for example a "
        f"crashed release) and is safe to remove when no git is running in {repo}"
    )
