"""The zero-downtime migration check, on migrations committed to real repositories."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from shipdeck.core.migrations import (
    Finding,
    MigrationCheckError,
    MigrationReport,
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


def _ours(report: MigrationReport) -> list[Finding]:
    """The AST check's findings (squawk's are tested in test_migrations_squawk.py)."""
    return [finding for finding in report.findings if finding.checker == "shipdeck"]


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
        ('op.create_index("ix", "users", ["email"])', "create_index", "without postgresql_concurrently"),
        ('op.create_index("ix", "users", ["email"], postgresql_concurrently=False)', "create_index",
         "blocks writes"),
        ('op.create_foreign_key("fk", "apps", "users", ["user_id"], ["id"])', "create_foreign_key",
         "validates every row"),
        ('op.create_primary_key("pk_users", "users", ["id"])', "create_primary_key", "unique index"),
        ('op.create_unique_constraint("uq", "users", ["email"])', "create_unique_constraint", "unique index"),
        ('op.create_check_constraint("ck", "users", "age > 0")', "create_check_constraint", "scans"),
        ('op.add_column("users", sa.Column("plan", sa.String(), nullable=False))', "add_column",
         "NOT NULL without a server_default"),
        ('with op.batch_alter_table("users") as b:\n    b.add_column(sa.Column("p", sa.Integer, nullable=False))',
         "add_column (batch)", "NOT NULL"),
        ('op.add_column("users", sa.Column("plan", sa.String()))\n'
         'op.execute("UPDATE users SET plan = \'free\' WHERE plan IS NULL")', "execute",
         "UPDATE in the same migration as schema changes"),
        ('op.execute("UPDATE users SET plan = \'free\'")', "execute", "with no WHERE"),
        ('op.execute("DELETE FROM sessions")', "execute", "DELETE with no WHERE"),
        ('op.get_bind().execute(sa.text("UPDATE users SET x = 1"))', "get_bind", "cannot be read"),
        ('orm.Session(bind=connection).query(User).delete()', "Session", "ORM session cannot be read"),
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
    (finding,) = _ours(report)
    assert (finding.file, finding.line, finding.operation) == (path, 7 + body.count("\n"), operation)
    assert detail in finding.detail
    assert finding.alternative and finding.checker == "shipdeck"


@pytest.mark.parametrize(
    "body",
    [
        'op.add_column("users", sa.Column("source", sa.String(), nullable=True))',
        'op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))',
        'with op.get_context().autocommit_block():\n'
        '    op.create_index("ix", "users", ["email"], postgresql_concurrently=True)',
        # On a table the same migration creates: empty, and no running version uses it yet.
        'op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.create_index("ix", "events", ["id"])\n'
        'op.create_foreign_key("fk", "events", "users", ["user_id"], ["id"])',
        'op.add_column("users", sa.Column("plan", sa.String(), nullable=False, server_default="free"))',
        'op.execute("UPDATE users SET source = \'web\' WHERE source IS NULL")',
        'op.alter_column("users", "email", nullable=True)',
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




def test_whole_history_without_from_ref_and_bad_refs(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": _upgrade("pass")})
    assert check_migrations(repo, None, "HEAD").files == ("migrations/versions/0002.py",)
    assert check_migrations(repo, "HEAD", "HEAD").files == ()
    with pytest.raises(MigrationCheckError, match="git diff failed"):
        check_migrations(repo, "v9.9.9", "HEAD")


# -- finding the version folders -------------------------------------------------------

DESTRUCTIVE = 'op.drop_column("users", "resume")'


@pytest.mark.parametrize(
    ("files", "folder"),
    [
        ({"services/api/db/migrations/versions/0002_drop.py": _upgrade(DESTRUCTIVE)}, "services/api/db/migrations/versions"),
        ({"backend/alembic/versions/0002_drop.py": _upgrade(DESTRUCTIVE)}, "backend/alembic/versions"),
        ({"alembic.ini": "[alembic]\nscript_location = db/schema\n", "db/schema/versions/0002_drop.py": _upgrade(DESTRUCTIVE)},
         "db/schema/versions"),
        ({"backend/alembic.ini": "[alembic]\nscript_location = %(here)s/schema\nsqlalchemy.url = x\n",
          "backend/schema/versions/0002_drop.py": _upgrade(DESTRUCTIVE)}, "backend/schema/versions"),
        ({"alembic.ini": "[alembic]\nscript_location = myapp.db:revisions\n", "myapp/db/revisions/versions/0002_drop.py": _upgrade(DESTRUCTIVE)},
         "myapp/db/revisions/versions"),
        ({"alembic.ini": "[alembic]\nscript_location = db\nversion_locations = %(here)s/db/extra\n",
          "db/extra/0002_drop.py": _upgrade(DESTRUCTIVE)}, "db/extra"),
    ],
    ids=["nested-migrations", "nested-alembic", "ini-script-location", "ini-in-subfolder-with-here", "ini-package-resource",
         "ini-version-locations"],
)
def test_version_folders_are_found_wherever_alembic_keeps_them(tmp_path: Path, files: dict[str, str], folder: str) -> None:
    repo = _repo_with(tmp_path, files)
    report = check_migrations(repo, "base", "HEAD")
    assert report.folders == (folder,)
    assert report.checked and not report.safe
    (finding,) = report.findings
    assert finding.operation == "drop_column" and finding.file.startswith(folder + "/")
    assert f"Migration folders at HEAD: {folder}" in render_report(report)


def test_a_configured_folder_is_searched_too(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"db/revs/0002.py": _upgrade("pass")})
    assert not check_migrations(repo, "base", "HEAD").checked
    report = check_migrations(repo, "base", "HEAD", ["db/revs/"])
    assert report.folders == ("db/revs",) and report.files == ("db/revs/0002.py",) and report.safe
    assert "db/revs (configured)" in report.searched


def test_no_migrations_folder_is_not_checked_and_never_passed(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"app/models.py": "x = 1\n", "alembic.ini": "[alembic]\nscript_location = db\n"})
    report = check_migrations(repo, "base", "HEAD", ["schema/versions"])

    assert (report.folders, report.files, report.findings) == ((), (), ())
    assert not report.checked and not report.safe
    assert report.searched == ("**/alembic/versions", "**/migrations/versions", "alembic.ini (script_location, version_locations)",
                               "db/versions (from alembic.ini)", "schema/versions (configured)")
    text = render_report(report)
    assert text.startswith("no Alembic migrations folder found at HEAD (looked for **/alembic/versions, **/migrations/versions, ")
    assert "db/versions (from alembic.ini)" in text and "schema/versions (configured)" in text
    assert "not checked" in text and "passed" not in text
    assert report.to_dict()["checked"] is False and report.to_dict()["safe"] is False
    with pytest.raises(MigrationCheckError, match="no commit 'v9.9.9'"):
        check_migrations(repo, "v9.9.9", "HEAD")  # a bad ref is an error even with nothing to check


def test_the_cli_says_not_checked_when_there_is_no_migrations_folder(tmp_path: Path) -> None:
    import json
    import sys

    repo = _repo_with(tmp_path, {"app/models.py": "x = 1\n"})
    cli = [sys.executable, "-m", "shipdeck.tui.cli", "check-migrations", "--from", "base", "--to", "HEAD"]
    text = subprocess.run(cli, cwd=repo, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("no Alembic migrations folder found at HEAD") and "not checked" in text.stdout
    assert "passed" not in text.stdout
    as_json = json.loads(subprocess.run([*cli, "--json"], cwd=repo, capture_output=True, text=True, timeout=60).stdout)
    assert (as_json["checked"], as_json["safe"], as_json["folders"]) == (False, False, [])
    bad_ref = subprocess.run([*cli[:-4], "--from", "v9.9.9", "--to", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=60)
    assert bad_ref.returncode == 2 and "Traceback" not in bad_ref.stderr
    assert bad_ref.stderr == f"shipdeck: migrations: no commit 'v9.9.9' in {repo}; name a tag, branch or commit that exists\n"
