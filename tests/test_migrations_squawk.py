"""squawk beside the AST check: on op.execute text, on alembic's offline SQL, and when it
cannot run (never a pass). Runs the real squawk binary from the squawk-cli wheel."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from shipdeck.core.migrations import check_migrations, render_report
from shipdeck.core.migrations_squawk import SQUAWK_ENV, find_squawk

from test_migrations import _git, _repo_with, _upgrade

pytestmark = pytest.mark.skipif(find_squawk()[0] is None, reason="squawk-cli is a dependency: reinstall .[test]")

ENV_PY = '''from alembic import context

config = context.config
if not context.is_offline_mode():
    raise SystemExit("this test renders offline SQL only")
context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
with context.begin_transaction():
    context.run_migrations()
'''
INI = "[alembic]\nscript_location = db\nsqlalchemy.url = postgresql://app@localhost/app\n"


def _revision(revision: str, down: str | None, body: str) -> str:
    return (f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = {revision!r}\n"
            f"down_revision = {down!r}\n\n\ndef upgrade():\n    {body}\n\n\ndef downgrade():\n    pass\n")


def test_squawk_reads_op_execute_text_with_file_and_line(tmp_path: Path) -> None:
    path = "migrations/versions/0002_index.py"
    repo = _repo_with(tmp_path, {path: _upgrade('op.execute("CREATE INDEX ix_users_email ON users (email)")')})
    report = check_migrations(repo, "base", "HEAD")
    assert [f.checker for f in report.findings] == ["squawk"]  # the AST check cannot see it
    (finding,) = report.findings
    assert (finding.file, finding.line, finding.operation) == (path, 6, "squawk require-concurrent-index-creation")
    assert "CREATE INDEX ix_users_email" in finding.detail and "concurrently" in finding.alternative
    assert report.squawk.startswith("squawk: 1 finding(s) in 1 op.execute statement(s) (alembic offline SQL "
                                    "is not available: no alembic.ini at HEAD)")
    text = render_report(report)
    assert f"{path}:6: squawk require-concurrent-index-creation" in text
    assert "Zero-downtime check: 1 finding blocks the release" in text


def test_squawk_on_alembic_offline_sql_for_the_whole_range(tmp_path: Path) -> None:
    first = "db/versions/0001_users.py"
    added = "db/versions/0002_plan.py"
    repo = _repo_with(tmp_path, {"alembic.ini": INI, "db/env.py": ENV_PY, first: _revision(
        "0001", None, 'op.create_table("users", sa.Column("id", sa.BigInteger, primary_key=True))')})
    _git(repo, "tag", "v1")
    (repo / added).write_text(_revision("0002", "0001", 'op.add_column("users", sa.Column("plan", sa.Text(), nullable=False))'))
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "plan")
    report = check_migrations(repo, "v1", "HEAD")
    assert report.squawk.startswith("squawk: 1 finding(s) in alembic's offline SQL (alembic upgrade 0001:heads --sql, alembic.ini)"), report.squawk
    by_checker = {f.checker: f for f in report.findings}
    assert by_checker["shipdeck"].operation == "add_column" and by_checker["shipdeck"].line == 9
    squawk = by_checker["squawk"]
    assert (squawk.file, squawk.line, squawk.operation) == (added, 8, "squawk adding-required-field")
    assert "offline SQL line" in squawk.detail and "ALTER TABLE users ADD COLUMN plan TEXT NOT NULL" in squawk.detail
    assert "0001_users" not in " ".join(f.file for f in report.findings)  # released earlier: not rendered


def test_an_env_that_cannot_render_offline_falls_back_to_op_execute(tmp_path: Path) -> None:
    path = "db/versions/0002.py"
    repo = _repo_with(tmp_path, {"alembic.ini": INI, "db/env.py": "raise RuntimeError('needs DATABASE_URL')\n",
                                 path: _revision("0002", None, 'op.execute("ALTER TABLE users ADD COLUMN n int")')})
    report = check_migrations(repo, "base", "HEAD")
    assert "alembic could not render offline SQL: RuntimeError: needs DATABASE_URL" in report.squawk
    assert report.squawk.startswith("squawk: no findings in 1 op.execute statement(s)")
    assert report.safe


def test_squawk_missing_or_failing_is_not_run_never_a_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": _upgrade('op.execute("SELECT 1")')})
    monkeypatch.setenv(SQUAWK_ENV, str(tmp_path / "no-squawk"))
    report = check_migrations(repo, "base", "HEAD")
    assert report.squawk == f"squawk: not run ({SQUAWK_ENV}={tmp_path / 'no-squawk'} is not an executable file)"
    assert report.squawk in render_report(report) and "squawk: no findings" not in render_report(report)
    broken = tmp_path / "squawk"
    broken.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('boom: bad config\\n')\nsys.exit(3)\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(SQUAWK_ENV, str(broken))
    report = check_migrations(repo, "base", "HEAD")
    assert report.squawk == f"squawk: not run ({broken} exited 3: boom: bad config)"
    assert not os.environ.get("PWNED")


def test_no_sql_to_read_says_so(tmp_path: Path) -> None:
    repo = _repo_with(tmp_path, {"migrations/versions/0002.py": _upgrade('op.add_column("users", sa.Column("x", sa.Text()))')})
    report = check_migrations(repo, "base", "HEAD")
    assert report.squawk.startswith("squawk: not run (no SQL to read: the added migrations have no literal op.execute")
    assert report.safe  # the AST check did run and found it additive
