"""A generated product repository for the demo and the tests.

One ``git fast-import`` stream writes the whole history into a bare "origin" (so building it
takes a few subprocesses, not hundreds), then a work clone is made on ``develop``. Names,
e-mails and dates are fixed so the history, and therefore every SHA, is the same on every run.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoRepo", "build_demo_repo", "DEMO_IDENTITY", "git_env"]

DEMO_IDENTITY = ("Release Captain", "captain@example.com")
_EPOCH = 1756728000  # 2025-09-01 12:00:00 UTC
_HOUR = 3600


def git_env(**extra: str) -> dict[str, str]:
    """An environment for git that ignores the caller's global/system configuration."""
    env = dict(os.environ)
    # A developer's global config (hooks, signing, templates) must not change the result.
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    env.update(extra)
    return env


@dataclass(frozen=True)
class DemoRepo:
    """Where the demo repository lives."""

    path: Path  # the captain's work clone, on develop, clean
    origin: Path  # the bare remote it pushes to


_AUTHORS = (
    ("Ada Park", "ada@example.com"),
    ("Bruno Silva", "bruno@example.com"),
    ("Chen Wei", "chen@example.com"),
    ("Dana Kowalski", "dana@example.com"),
)

_ADDITIVE_MIGRATION = '''"""add applications.source

Revision ID: 20251006_add_source
Revises: 0001_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "20251006_add_source"
down_revision = "0001_initial"


def upgrade():
    op.add_column("applications", sa.Column("source", sa.String(64), nullable=True))
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run in a transaction
        op.create_index("ix_applications_source", "applications", ["source"],
                        postgresql_concurrently=True)


def downgrade():
    op.drop_index("ix_applications_source", table_name="applications")
    op.drop_column("applications", "source")
'''

_DESTRUCTIVE_MIGRATION = '''"""drop users.legacy_resume and rename the score column

Revision ID: 20251008_cleanup
Revises: 20251006_add_source
"""
import sqlalchemy as sa
from alembic import op

revision = "20251008_cleanup"
down_revision = "20251006_add_source"


def upgrade():
    op.drop_column("users", "legacy_resume")
    with op.batch_alter_table("applications") as batch_op:
        batch_op.alter_column("score", new_column_name="match_score")


def downgrade():
    op.add_column("users", sa.Column("legacy_resume", sa.Text()))
'''

_INITIAL_MIGRATION = '''"""initial schema

Revision ID: 0001_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None


def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True))
    op.create_table("applications", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("applications")
    op.drop_table("users")
'''


@dataclass
class _Stream:
    """Accumulates a fast-import stream while tracking each branch's files and tip mark."""

    chunks: list[bytes] = field(default_factory=list)
    tips: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    mark: int = 0
    clock: int = _EPOCH
    author_index: int = 0

    def commit(
        self,
        branch: str,
        message: str,
        changes: dict[str, str | None] | None = None,
        *,
        start_from: str | None = None,
        merge: str | None = None,
    ) -> int:
        self.mark += 1
        self.clock += _HOUR
        name, email = _AUTHORS[self.author_index % len(_AUTHORS)]
        self.author_index += 1
        if branch not in self.files:
            base = start_from or branch
            self.files[branch] = dict(self.files.get(base, {}))
            if base in self.tips:
                self.tips[branch] = self.tips[base]
        tree = self.files[branch]
        changes = dict(changes or {})
        if merge is not None:
            # A clean merge's tree holds the merged branch's files as well.
            for path, merged_text in self.files[merge].items():
                if tree.get(path) != merged_text:
                    changes.setdefault(path, merged_text)
        committer = f"{DEMO_IDENTITY[0]} <{DEMO_IDENTITY[1]}> {self.clock} +0000"
        out = [f"commit refs/heads/{branch}", f"mark :{self.mark}"]
        out.append(f"author {name} <{email}> {self.clock} +0000")
        out.append(f"committer {committer}")
        header = "\n".join(out).encode()
        body = _data(message)
        tail: list[bytes] = []
        if branch in self.tips:
            tail.append(f"from :{self.tips[branch]}".encode())
        if merge is not None:
            tail.append(f"merge :{self.tips[merge]}".encode())
        for path, text in changes.items():
            if text is None:  # None deletes the file
                tail.append(f"D {path}".encode())
                tree.pop(path, None)
                continue
            tail.append(f"M 100644 inline {path}".encode())
            tail.append(_data(text))
            tree[path] = text
        self.chunks.append(b"\n".join([header, body, *tail]) + b"\n\n")
        self.tips[branch] = self.mark
        return self.mark

    def tag(self, name: str, mark: int, message: str) -> None:
        self.clock += 60
        tagger = f"{DEMO_IDENTITY[0]} <{DEMO_IDENTITY[1]}> {self.clock} +0000"
        head = f"tag {name}\nfrom :{mark}\ntagger {tagger}".encode()
        self.chunks.append(head + b"\n" + _data(message) + b"\n")


def _data(text: str) -> bytes:
    raw = text.encode()
    return f"data {len(raw)}\n".encode() + raw


def _history_before_v1_3(stream: _Stream) -> None:
    """main with v1.2.0 and v1.3.0 tagged; develop starts at v1.3.0."""
    stream.commit(
        "main",
        "Initial commit\n",
        {
            "README.md": "# RoleFerry\n\nJob applications, tracked.\n",
            "app/__init__.py": "",
            "app/tracker.py": "def load(user):\n    return []\n",
            "migrations/versions/0001_initial.py": _INITIAL_MIGRATION,
        },
    )
    stream.commit("main", "feat: job tracker board (#12)\n", {"app/board.py": "COLUMNS = 4\n"})
    v120 = stream.commit("main", "fix: login redirect loop (#15)\n", {"app/login.py": "NEXT = '/'\n"})
    stream.tag("v1.2.0", v120, "v1.2.0\n\nRelease v1.2.0\n")
    stream.commit("main", "feat(email): weekly digest (#21)\n", {"app/digest.py": "DAY = 'mon'\n"})
    stream.commit("main", "perf: cache match scores (#23)\n", {"app/score.py": "CACHE = {}\n"})
    v130 = stream.commit(
        "main",
        "chore(release): v1.3.0\n",
        {"CHANGELOG.md": "# v1.3.0 (September 1, 2025)\n\n## New Features\n- ✨ Weekly digest\n"},
    )
    stream.tag("v1.3.0", v130, "v1.3.0\n\nRelease v1.3.0\n")


def _history_after_v1_3(stream: _Stream, commits_per_feature: int, destructive: bool) -> int:
    """develop after v1.3.0; returns the mark of the commit a revert in it cancels."""
    stream.commit("develop", "docs: release checklist\n", {"docs/release.md": "1. cut\n"},
                  start_from="main")
    for index in range(commits_per_feature):
        stream.commit(
            "feature/ai-copilot",
            f"feat(copilot): ask questions, get answers (part {index + 1})\n",
            {f"app/copilot/part{index + 1}.py": f"PART = {index + 1}\n"},
            start_from="develop",
        )
    stream.commit(
        "develop",
        "Merge pull request #41 from org/feature/ai-copilot\n\nAI Copilot (beta): Ask questions, get answers\n",
        merge="feature/ai-copilot",
    )
    stream.commit("develop", "feat(tracker): LivePages: personalized landing pages for emails (#42)\n",
                  {"app/livepages.py": "ENABLED = True\n"})
    stream.commit("develop", "perf: 30% faster API response times (optimized queries) (#43)\n",
                  {"app/queries.py": "PREFETCH = True\n"})
    stream.commit("develop", "fix: tracker not loading for users with 100+ applications (#44)\n",
                  {"app/tracker.py": "def load(user):\n    return list(user.applications)\n"})
    stream.commit("develop", "Fix typo in login page\n", {"app/login.py": "NEXT = '/home'\n"})
    stream.commit("develop", "Update README\n",
                  {"README.md": "# RoleFerry\n\nJob applications, tracked and matched.\n"})
    reverted = stream.commit("develop", "feat: experimental dark mode toggle\n",
                             {"app/theme.py": "DARK = True\n"})
    stream.commit("develop", "[@click=app.quit] handle [/b] and [TODO] in tracker\n",
                  {"app/tracker_markup.py": "SAFE = True\n"})
    stream.commit(
        "develop",
        "fix(email): emails sent twice on retry (#45)\n\n"
        "The worker log showed \x1b[31mERROR duplicate send\x1b[0m on every retry.\n",
        {"app/email.py": "IDEMPOTENT = True\n"},
    )
    for index in range(commits_per_feature):
        stream.commit("feature/email-drafts", f"Improve email draft prompts (step {index + 1})\n",
                      {f"app/drafts/step{index + 1}.py": "PROMPT = 'v2'\n"}, start_from="develop")
    stream.commit(
        "develop",
        "Merge pull request #46 from org/feature/email-drafts\n\nBetter email drafts (improved AI prompts)\n",
        merge="feature/email-drafts",
    )
    stream.commit("develop", "feat(db): record where an application came from (#47)\n",
                  {"migrations/versions/20251006_add_source.py": _ADDITIVE_MIGRATION})
    stream.commit(
        "develop",
        "feat(api)!: remove the v1 jobs API (#48)\n\n"
        "BREAKING CHANGE: /api/v1/jobs is gone; clients must use /api/v2/jobs.\n",
        {"app/api_v1.py": "REMOVED = True\n"},
    )
    stream.commit("develop", "deprecate: the legacy=1 parameter of /jobs/search (#49)\n",
                  {"app/search.py": "LEGACY_WARNING = True\n"})
    stream.commit("develop", "refactor(scoring): split match score service\n",
                  {"app/score.py": "CACHE = {}\nSPLIT = True\n"})
    stream.commit("develop", "chore(deps): bump httpx to 0.28\n", {"requirements.txt": "httpx==0.28\n"})
    if destructive:
        stream.commit("develop", "chore(db): drop legacy resume column and rename score (#50)\n",
                      {"migrations/versions/20251008_cleanup.py": _DESTRUCTIVE_MIGRATION})
    return reverted


def build_demo_repo(
    root: Path, *, commits_per_feature: int = 1, destructive_migration: bool = False
) -> DemoRepo:
    """Create ``root/origin.git`` (bare) and ``root/work`` (a clean clone on develop).

    Args:
        root: an existing or new directory; the two repositories are created inside it.
        commits_per_feature: commits on each feature branch before its pull request merges.
        destructive_migration: also add an Alembic migration that drops and renames a column.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    origin, work = root / "origin.git", root / "work"
    env = git_env()
    _run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin)], env)

    stream = _Stream()
    _history_before_v1_3(stream)
    reverted = _history_after_v1_3(stream, max(1, commits_per_feature), destructive_migration)
    _import(origin, stream, reverted, env)

    _run(
        [
            "git", "clone", "--quiet", "--branch", "develop",
            "-c", f"user.name={DEMO_IDENTITY[0]}", "-c", f"user.email={DEMO_IDENTITY[1]}",
            "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
            str(origin), str(work),
        ],
        env,
    )
    _run(["git", "-C", str(work), "branch", "--quiet", "--track", "main", "origin/main"], env)
    return DemoRepo(path=work, origin=origin)


def _import(origin: Path, stream: _Stream, reverted_mark: int, env: dict[str, str]) -> None:
    """Feed the stream to fast-import; the revert needs the reverted commit's SHA mid-stream."""
    process = subprocess.Popen(
        ["git", "-C", str(origin), "fast-import", "--quiet", "--done"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(b"".join(stream.chunks))
        process.stdin.write(f"get-mark :{reverted_mark}\n".encode())
        process.stdin.flush()
        reverted_sha = process.stdout.readline().decode().strip()
        stream.chunks.clear()
        stream.commit(
            "develop",
            f'Revert "feat: experimental dark mode toggle"\n\n'
            f"This reverts commit {reverted_sha}.\n",
            {"app/theme.py": None},
        )
        process.stdin.write(b"".join(stream.chunks) + b"done\n")
        process.stdin.close()
        stderr = process.stderr.read() if process.stderr else b""
    finally:
        returncode = process.wait()
    if returncode != 0:
        raise RuntimeError(f"git fast-import into {origin} failed: {stderr.decode(errors='replace')}")


def _run(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()}")
