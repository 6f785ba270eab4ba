"""The zero-downtime migration check, on migrations committed to real repositories."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from shipdeck.core.migrations import (
    MigrationCheckError,
    check_migrations,
    render_report,
)
from shipdeck.core.sandbox.demo_repo import build_demo_repo, git_env

HEADER = "import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade():\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com",
         "-c", "commit.gpgsign=false", *args],
        env=git_env(), capture_output=True, text=True, check=True,
    ).stdout.strip()


def _repo_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A repo whose first commit is tagged ``base`` and whose second adds ``files``."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)],
                   env=git_env(), check=True)
    (repo / "README.md").write_text("x\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "--quiet", "-m", "base")
    _git(repo, "tag", "base")
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "migrations")
    return repo


def _upgrade(body: str) -> str:
    return HEADER + textwrap.indent(textwrap.dedent(body), "    ")


@pytest.mark.parametrize(
    ("body", "operation", "detail"),
    [
        ('op.drop_table("users")', "drop_table", "drop_table('users')"),
        ('op.drop_column("users", "resume")', "drop_column", "drop_column('users', 'resume')"),
        ('op.drop_constraint("fk_user", "apps")', "drop_constraint", "'fk_user'"),
        ('op.rename_table("users", "members")', "rename_table", "'members'"),
        ('op.alter_column("users", "name", new_column_name="full_name")', "alter_column",
         "new_column_name='full_name'"),
        ('op.alter_column("users", "age", type_=sa.BigInteger())', "alter_column",
         "type_=sa.BigInteger()"),
        ('op.alter_column("users", "email", nullable=False)', "alter_column", "nullable=False"),
        ('with op.batch_alter_table("users") as batch_op:\n    batch_op.drop_column("resume")',
         "drop_column (batch)", "drop_column('resume')"),
        ('with op.batch_alter_table("users") as b:\n    b.alter_column("x", new_column_name="y")',
         "alter_column (batch)", "new_column_name='y'"),
        ('op.execute("ALTER TABLE users DROP COLUMN resume")', "execute", "DROP COLUMN"),
        ('op.execute(sa.text("TRUNCATE audit_log"))', "execute", "TRUNCATE audit_log"),
        ('op.execute("ALTER TABLE users RENAME TO members")', "execute", "RENAME"),
        ('op.execute("ALTER TABLE users ALTER COLUMN age TYPE bigint")', "execute", "ALTER COLUMN"),
        ('op.execute(f"DROP TABLE {name}")', "execute", "cannot be read"),
        ('op.execute(sql)', "execute", "cannot be read"),
    ],
)
def test_destructive_operation_is_found_with_file_and_line(
    tmp_path: Path, body: str, operation: str, detail: str
) -> None:
    path = "migrations/versions/0002_change.py"
    repo = _repo_with(tmp_path, {path: _upgrade("pass\n" + body)})
    report = check_migrations(repo, "base", "HEAD")
    assert report.files == (path,)
    assert not report.safe
    (finding,) = report.findings
    assert (finding.file, finding.line, finding.operation) == (path, 7 + body.count("\n"), operation)
    assert detail in finding.detail
    assert "later release" in finding.alternative or "by hand" in finding.alternative


@pytest.mark.parametrize(
    "body",
    [
        'op.add_column("users", sa.Column("source", sa.String(), nullable=True))',
        'op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))',
        'op.create_index("ix", "users", ["email"])',
        'op.alter_column("users", "email", nullable=True)',
        'op.execute("UPDATE users SET source = \'web\' WHERE source IS NULL")',
        'op.execute("ALTER TABLE users ADD COLUMN nickname text")',
        'with op.batch_alter_table("users") as batch_op:\n    batch_op.add_column(sa.Column("x", sa.Integer))',
    ],
)
def test_additive_operations_pass(tmp_path: Path, body: str) -> None:
    repo = _repo_with(tmp_path, {"alembic/versions/0002_add.py": _upgrade(body)})
    report = check_migrations(repo, "base", "HEAD")
    assert report.files == ("alembic/versions/0002_add.py",) and report.safe, report.findings


def test_only_upgrade_is_checked_and_code_is_never_executed(tmp_path: Path) -> None:
    source = (
        "import os\nos.system('touch PWNED')\nfrom alembic import op as alembic_op\n\n\n"
        "def upgrade():\n    alembic_op.drop_column('users', 'x')\n\n\n"
        "def downgrade():\n    alembic_op.drop_table('users')\n"
    )
    repo = _repo_with(tmp_path, {"migrations/versions/0003.py": source})
    report = check_migrations(repo, "base", "HEAD")
    assert [(f.operation, f.line) for f in report.findings] == [("drop_column", 7)]
    assert not (repo / "PWNED").exists() and not Path("PWNED").exists()


def test_files_are_read_at_the_ref_not_from_the_work_tree(tmp_path: Path) -> None:
    path = "migrations/versions/0002.py"
    repo = _repo_with(tmp_path, {path: _upgrade('op.drop_table("users")'),
                                 "migrations/versions/__init__.py": "",
                                 "migrations/versions/notes.txt": "drop_table"})
    (repo / path).write_text(_upgrade("pass"))  # uncommitted edit must not hide the finding
    report = check_migrations(repo, "base", "HEAD")
    assert report.files == (path,) and len(report.findings) == 1


def test_unparseable_migration_is_a_finding(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": "def upgrade(:\n"})
    (finding,) = check_migrations(repo, "base", "HEAD").findings
    assert finding.operation == "syntax" and finding.line == 1


def test_demo_repo_additive_then_destructive(tmp_path: Path) -> None:
    additive = build_demo_repo(tmp_path / "a")
    report = check_migrations(additive.path, "v1.3.0", "develop")
    assert report.files == ("migrations/versions/20251006_add_source.py",) and report.safe
    destructive = build_demo_repo(tmp_path / "d", destructive_migration=True)
    report = check_migrations(destructive.path, "v1.3.0", "develop")
    assert [(f.operation, f.line) for f in report.findings] == [
        ("drop_column", 14), ("alter_column (batch)", 16)]
    text = render_report(report)
    assert "migrations/versions/20251008_cleanup.py:14: drop_column" in text
    assert "instead: stop using the column" in text
    assert report.to_dict()["safe"] is False


def test_squawk_is_reported_as_skipped_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # where squawk is not
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": _upgrade("pass")})
    report = check_migrations(repo, "base", "HEAD")
    assert report.squawk == "squawk not installed: skipped"
    assert "squawk not installed: skipped" in render_report(report)


def test_whole_history_without_from_ref_and_bad_refs(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": _upgrade("pass")})
    assert check_migrations(repo, None, "HEAD").files == ("migrations/versions/0002.py",)
    assert check_migrations(repo, "HEAD", "HEAD").files == ()
    with pytest.raises(MigrationCheckError, match="git diff failed"):
        check_migrations(repo, "v9.9.9", "HEAD")
