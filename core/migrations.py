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
from typing import Any

__all__ = ["Finding", "MigrationCheckError", "MigrationReport", "check_migrations", "find_version_folders", "render_report"]

# Where Alembic keeps revisions by convention, at any depth; alembic.ini's script_location (and
# version_locations) and the configured [migrations] directories are searched as well.
CONVENTIONAL_FOLDERS = ("alembic/versions", "migrations/versions")
ALEMBIC_INI = "alembic.ini (script_location, version_locations)"
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
    """What the check looked for, read and found between two refs.

    ``folders`` are the Alembic version folders found at ``to_ref``; when there are none the
    check did not run (``checked`` is False) and is never reported as passed.
    """

    from_ref: str | None
    to_ref: str
    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    squawk: str
    folders: tuple[str, ...] = ()
    searched: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        return bool(self.folders)

    @property
    def safe(self) -> bool:
        """Checked, and nothing destructive found."""
        return self.checked and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_ref, "to": self.to_ref, "checked": self.checked, "safe": self.safe,
            "folders": list(self.folders), "searched": list(self.searched),
            "files": list(self.files), "squawk": self.squawk,
            "findings": [vars(finding) for finding in self.findings],
        }


def check_migrations(
    repo_path: Path | str,
    from_ref: str | None,
    to_ref: str,
    directories: Sequence[str] = (),
) -> MigrationReport:
    """Check the migration files added between ``from_ref`` and ``to_ref`` (all, without from_ref).

    Args:
        directories: configured version folders, searched besides the ones Alembic's
            conventions and ``alembic.ini`` point to.
    """
    repo = Path(repo_path)
    folders, searched = find_version_folders(repo, to_ref, directories)
    if not folders:
        if from_ref:  # a bad ref is still an error, even with nothing to check
            _verify_ref(repo, from_ref)
        return MigrationReport(from_ref, to_ref, (), (), "squawk: not run (no migrations folder)", (), searched)
    files = _added_migrations(repo, from_ref, to_ref, folders)
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    for path in files:
        sources[path] = _git(repo, "show", f"{to_ref}:{path}")
        findings.extend(_check_source(path, sources[path]))
    squawk = _run_squawk(repo, to_ref, sources) if files else "squawk: no migrations to check"
    return MigrationReport(from_ref, to_ref, tuple(files), tuple(findings), squawk, folders, searched)


def find_version_folders(
    repo: Path, ref: str, directories: Sequence[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The Alembic version folders that hold files at ``ref``, and what was searched.

    Found: any ``*/alembic/versions`` or ``*/migrations/versions`` (any depth), the
    ``script_location`` + ``/versions`` and ``version_locations`` of every ``alembic.ini``,
    and the configured ``directories``; each only when git has files under it at ``ref``.
    """
    paths = _git(repo, "ls-tree", "-r", "--name-only", "-z", ref).split("\0")
    dirs = {_parent(path) for path in paths if path}
    candidates = {d for d in dirs if any(d == c or d.endswith("/" + c) for c in CONVENTIONAL_FOLDERS)}
    searched = [f"**/{c}" for c in CONVENTIONAL_FOLDERS] + [ALEMBIC_INI]
    for ini in sorted(p for p in paths if p == "alembic.ini" or p.endswith("/alembic.ini")):
        for location in _ini_version_locations(_git(repo, "show", f"{ref}:{ini}"), _parent(ini)):
            candidates.add(location)
            searched.append(f"{location} (from {ini})")
    for directory in directories:
        cleaned = directory.strip().strip("/")
        if cleaned:
            candidates.add(cleaned)
            searched.append(f"{cleaned} (configured)")
    found = sorted(c for c in candidates if any(d == c or d.startswith(c + "/") for d in dirs))
    return tuple(found), tuple(dict.fromkeys(searched))


def _ini_version_locations(text: str, ini_dir: str) -> list[str]:
    """Version folders an alembic.ini names, as paths from the repository root."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_section("alembic"):
        return []
    section = parser["alembic"]
    locations = []
    script = section.get("script_location", "").strip()
    if script:
        locations.append(_repo_path(script, ini_dir) + "/versions")
    locations += [_repo_path(extra, ini_dir) for extra in re.split(r"[\s,;:]+", section.get("version_locations", "")) if extra]
    # An absolute path or one above the repository cannot be read from git at a ref.
    return [location for location in locations if location and not location.startswith(("/", "../"))]


def _repo_path(value: str, ini_dir: str) -> str:
    """A script/version location from alembic.ini as a path from the repository root.

    Alembic resolves it against the directory it runs in, which is the ini's in practice;
    ``%(here)s`` is the ini's directory; ``package.module:folder`` is a package resource.
    """
    value = value.replace("%(here)s", ".")
    if value.startswith("/"):
        return value
    if ":" in value and "/" not in value.split(":", 1)[0]:
        package, folder = value.split(":", 1)
        value = package.replace(".", "/") + "/" + folder
    joined = Path(ini_dir or ".") / value
    parts: list[str] = []
    for part in joined.parts:
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _added_migrations(
    repo: Path, from_ref: str | None, to_ref: str, folders: Sequence[str]
) -> list[str]:
    if from_ref:
        # --no-renames: a migration moved into the directory counts as added.
        output = _git(repo, "diff", "--name-status", "--no-renames", "--diff-filter=A",
                      from_ref, to_ref, "--", *folders)
        paths = [line.split("\t", 1)[1] for line in output.splitlines() if "\t" in line]
    else:
        paths = _git(repo, "ls-tree", "-r", "--name-only", to_ref, "--", *folders).splitlines()
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
    """Plain text for people: where it looked, verdict, one block per finding, squawk status."""
    if not report.checked:
        return (
            f"no Alembic migrations folder found at {report.to_ref} (looked for {', '.join(report.searched)})\n"
            "Zero-downtime check: not checked. If the project has migrations elsewhere, list their folder in "
            "[migrations] directories.\n"
        )
    span = f"{report.from_ref}..{report.to_ref}" if report.from_ref else report.to_ref
    lines = [f"Migration folders at {report.to_ref}: {', '.join(report.folders)}"]
    lines.append(f"Migrations added in {span}: {len(report.files)}")
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


def _verify_ref(repo: Path, ref: str) -> None:
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MigrationCheckError(f"no commit {ref!r} in {repo.resolve()}; name a tag, branch or commit that exists")


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise MigrationCheckError(f"git {args[0]} failed in {repo}: {result.stderr.strip()}")
    return result.stdout
