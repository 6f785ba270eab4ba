"""Zero-downtime check of the Alembic migrations a release adds.

Migration files are read from git at the release commit and parsed with ``ast``: the
project's code is never imported or executed by the check itself.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "MigrationCheckError", "MigrationReport", "check_migrations", "render_report"]

DEFAULT_DIRECTORIES = ("migrations/versions", "alembic/versions")
_LATER = "drop it in a later release, once no running version reads or writes it"
_ALTERNATIVES = {
    "drop_table": f"stop using the table in this release's code and {_LATER}",
    "drop_column": f"stop using the column in this release's code and {_LATER}",
    "drop_constraint": f"relax code that relies on the constraint first and {_LATER}",
    "rename_table": "add the new table, write to both, backfill, switch reads, then drop the "
                    "old one in a later release",
    "new_column_name": "add the new column, write to both, backfill, switch reads, then drop "
                       "the old column in a later release",
    "type_": "add a new column with the new type, backfill it, switch reads, then drop the "
             "old column in a later release",
    "nullable=False": "backfill and make every writer set the column first; add NOT NULL in a "
                      "later release",
    "execute": "split it: additive statements (add, backfill) now, the drop/rename/alter in a "
               "later release",
    "dynamic": "use a literal SQL string so it can be checked, or review it by hand and waive",
    "syntax": "fix the syntax error; the migration would fail to load",
}
_DESTRUCTIVE_SQL = re.compile(
    r"\b(DROP|RENAME|TRUNCATE)\b|\bALTER\b[^;]*\b(ALTER\s+COLUMN|TYPE|NOT\s+NULL)\b",
    re.IGNORECASE,
)
_SIMPLE_DESTRUCTIVE = ("drop_table", "drop_column", "drop_constraint", "rename_table")


class MigrationCheckError(Exception):
    """The refs or files could not be read from git."""


@dataclass(frozen=True)
class Finding:
    """One destructive or locking operation in a migration's ``upgrade()``."""

    file: str
    line: int
    operation: str
    detail: str
    alternative: str


@dataclass(frozen=True)
class MigrationReport:
    """What the check read and found between two refs."""

    from_ref: str | None
    to_ref: str
    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    squawk: str

    @property
    def safe(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {
            "from": self.from_ref, "to": self.to_ref, "safe": self.safe,
            "files": list(self.files), "squawk": self.squawk,
            "findings": [vars(finding) for finding in self.findings],
        }


def check_migrations(
    repo_path: Path | str,
    from_ref: str | None,
    to_ref: str,
    directories: Sequence[str] = DEFAULT_DIRECTORIES,
) -> MigrationReport:
    """Check the migration files added between ``from_ref`` and ``to_ref`` (all, without from_ref)."""
    repo = Path(repo_path)
    files = _added_migrations(repo, from_ref, to_ref, directories)
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    for path in files:
        sources[path] = _git(repo, "show", f"{to_ref}:{path}")
        findings.extend(_check_source(path, sources[path]))
    squawk = _run_squawk(repo, to_ref, sources) if files else "squawk: no migrations to check"
    return MigrationReport(from_ref, to_ref, tuple(files), tuple(findings), squawk)


def _added_migrations(
    repo: Path, from_ref: str | None, to_ref: str, directories: Sequence[str]
) -> list[str]:
    dirs = [d.strip("/") for d in directories]
    if from_ref:
        # --no-renames: a migration moved into the directory counts as added.
        output = _git(repo, "diff", "--name-status", "--no-renames", "--diff-filter=A",
                      from_ref, to_ref, "--", *dirs)
        paths = [line.split("\t", 1)[1] for line in output.splitlines() if "\t" in line]
    else:
        paths = _git(repo, "ls-tree", "-r", "--name-only", to_ref, "--", *dirs).splitlines()
    return sorted(p for p in paths if p.endswith(".py") and not p.endswith("__init__.py"))


def _check_source(path: str, source: str) -> list[Finding]:
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        return [Finding(path, error.lineno or 1, "syntax", f"cannot parse: {error.msg}",
                        _ALTERNATIVES["syntax"])]
    op_names = {"op"} | {
        alias.asname or alias.name
        for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "alembic"
        for alias in node.names if alias.name == "op"
    }
    upgrades = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
    findings: list[Finding] = []
    for upgrade in upgrades:
        receivers = set(op_names) | _batch_aliases(upgrade, op_names)
        for node in ast.walk(upgrade):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in receivers):
                findings.extend(_check_call(path, node, node.func.attr, node.func.value.id in op_names))
    return sorted(findings, key=lambda f: f.line)


def _batch_aliases(upgrade: ast.FunctionDef, op_names: set[str]) -> set[str]:
    """Names bound by ``with op.batch_alter_table(...) as batch_op``."""
    aliases = set()
    for node in ast.walk(upgrade):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "batch_alter_table"
                        and isinstance(call.func.value, ast.Name) and call.func.value.id in op_names
                        and isinstance(item.optional_vars, ast.Name)):
                    aliases.add(item.optional_vars.id)
    return aliases


def _check_call(path: str, call: ast.Call, name: str, on_op: bool) -> list[Finding]:
    where = "" if on_op else " (batch)"
    args = ", ".join(_literal_text(arg) for arg in call.args)
    if name in _SIMPLE_DESTRUCTIVE:
        return [Finding(path, call.lineno, name + where, f"{name}({args})", _ALTERNATIVES[name])]
    if name == "alter_column":
        found = []
        for keyword in call.keywords:
            if keyword.arg in ("new_column_name", "type_"):
                found.append((keyword.arg, f"{keyword.arg}={_literal_text(keyword.value)}"))
            elif (keyword.arg == "nullable" and isinstance(keyword.value, ast.Constant)
                  and keyword.value.value is False):
                found.append(("nullable=False", "nullable=False"))
        return [Finding(path, call.lineno, f"alter_column{where}", f"alter_column({args}, {text})",
                        _ALTERNATIVES[kind]) for kind, text in found]
    if name == "execute" and call.args:
        sql = _sql_literal(call.args[0])
        if sql is None:
            return [Finding(path, call.lineno, "execute", "SQL built at runtime cannot be read",
                            _ALTERNATIVES["dynamic"])]
        if _DESTRUCTIVE_SQL.search(sql):
            return [Finding(path, call.lineno, "execute", " ".join(sql.split())[:200],
                            _ALTERNATIVES["execute"])]
    return []


def _sql_literal(node: ast.expr) -> str | None:
    """The SQL text of ``"..."`` or ``sa.text("...")``; None when it is built at runtime."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "text"):
        return _sql_literal(node.args[0])
    return None


def _literal_text(node: ast.expr) -> str:
    return repr(node.value) if isinstance(node, ast.Constant) else ast.unparse(node)


def _run_squawk(repo: Path, to_ref: str, sources: dict[str, str]) -> str:
    """Squawk over alembic's offline SQL for the added revisions, when both tools are there."""
    squawk, alembic = shutil.which("squawk"), shutil.which("alembic")
    if squawk is None:
        return "squawk not installed: skipped"
    if alembic is None:
        return "squawk: alembic not installed, cannot render offline SQL: skipped"
    if subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{to_ref}:alembic.ini"],
                      capture_output=True, check=False).returncode != 0:
        return f"squawk: no alembic.ini at {to_ref}: skipped"
    start = _first_down_revision(sources)
    with tempfile.TemporaryDirectory(prefix="shipdeck-squawk-") as temp:
        tree = Path(temp) / "tree"
        _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), to_ref)
        try:
            rendered = subprocess.run(
                [alembic, "upgrade", f"{start or 'base'}:heads", "--sql"],
                cwd=tree, capture_output=True, text=True, timeout=120, check=False,
            )
            if rendered.returncode != 0:
                return "squawk: alembic could not render offline SQL: skipped"
            sql_file = Path(temp) / "release.sql"
            sql_file.write_text(rendered.stdout)
            result = subprocess.run([squawk, str(sql_file)], capture_output=True, text=True,
                                    timeout=120, check=False)
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))
    if result.returncode == 0:
        return "squawk: passed"
    return "squawk: " + " ".join(result.stdout.split())[:2000]


def _first_down_revision(sources: dict[str, str]) -> str | None:
    """The revision the added migrations start from (the one not among them)."""
    revisions: dict[str, str | None] = {}
    for source in sources.values():
        values = dict(re.findall(r"^(revision|down_revision)\s*=\s*['\"]([^'\"]*)['\"]", source, re.M))
        if "revision" in values:
            revisions[values["revision"]] = values.get("down_revision")
    starts = [down for down in revisions.values() if down not in revisions]
    return starts[0] if starts else None


def render_report(report: MigrationReport) -> str:
    """Plain text for people: verdict, one block per finding, squawk status."""
    span = f"{report.from_ref}..{report.to_ref}" if report.from_ref else report.to_ref
    lines = [f"Migrations added in {span}: {len(report.files)}"]
    lines += [f"  {path}" for path in report.files]
    if report.safe:
        lines.append("Zero-downtime check: passed (additive only)")
    else:
        lines.append(f"Zero-downtime check: {len(report.findings)} finding(s) block the release")
        for finding in report.findings:
            lines.append(f"  {finding.file}:{finding.line}: {finding.operation}: {finding.detail}")
            lines.append(f"    instead: {finding.alternative}")
    lines.append(report.squawk)
    return "\n".join(lines) + "\n"


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise MigrationCheckError(f"git {args[0]} failed in {repo}: {result.stderr.strip()}")
    return result.stdout
