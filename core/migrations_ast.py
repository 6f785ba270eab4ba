"""The zero-downtime rules, read from a migration's ``upgrade()`` with ``ast`` (never run)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Finding", "check_source", "execute_sql", "execute_statements"]

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
    "create_index": "create it with postgresql_concurrently=True inside "
                    "op.get_context().autocommit_block(), so writes are not blocked while it builds",
    "create_foreign_key": "add it NOT VALID (op.execute(\"ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY "
                          "… NOT VALID\")), then VALIDATE CONSTRAINT in a later migration",
    "create_check_constraint": "add it NOT VALID with op.execute, then VALIDATE CONSTRAINT in a "
                               "later migration",
    "create_unique": "CREATE UNIQUE INDEX CONCURRENTLY first (autocommit_block), then add the "
                     "constraint USING INDEX",
    "not_null_column": "add the column nullable (or with a server_default), backfill, and add NOT "
                       "NULL in a later release",
    "backfill": "backfill in batches outside the schema migration (a separate data migration or "
                "job), so no lock is held for the whole table",
    "opaque": "the check cannot read what this runs: move the data change into a literal "
              "op.execute(...) or a separate data job, or review it by hand and waive",
}
_DESTRUCTIVE_SQL = re.compile(
    r"\b(DROP|RENAME|TRUNCATE)\b|\bALTER\b[^;]*\b(ALTER\s+COLUMN|TYPE|NOT\s+NULL)\b",
    re.IGNORECASE,
)
_DATA_SQL = re.compile(r"^\s*(UPDATE|DELETE|INSERT)\b", re.IGNORECASE | re.MULTILINE)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_SIMPLE_DESTRUCTIVE = ("drop_table", "drop_column", "drop_constraint", "rename_table")
_SCHEMA_CALLS = frozenset(("add_column", "alter_column", "create_index", "create_foreign_key",
                           "create_primary_key", "create_unique_constraint",
                           "create_check_constraint", *_SIMPLE_DESTRUCTIVE))
# Positional index of the table argument, for calls that are harmless on a table the same
# migration creates (it is empty, and no running version uses it yet).
_TABLE_ARG = {"create_index": (1, "table_name"), "create_foreign_key": (1, "source_table"),
              "create_primary_key": (1, "table_name"), "create_unique_constraint": (1, "table_name"),
              "create_check_constraint": (1, "table_name"), "add_column": (0, "table_name")}


@dataclass(frozen=True)
class Finding:
    """One operation in a migration that is not zero-downtime, or that cannot be read.

    ``checker`` says who found it: ``"shipdeck"`` (this module) or ``"squawk"``.
    """

    file: str
    line: int
    operation: str
    detail: str
    alternative: str
    checker: str = "shipdeck"


def check_source(path: str, source: str) -> list[Finding]:
    """Findings in the ``upgrade()`` of one migration file's source, by line."""
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
        findings.extend(_check_upgrade(path, upgrade, op_names))
    return sorted(findings, key=lambda f: f.line)


def _check_upgrade(path: str, upgrade: ast.FunctionDef, op_names: set[str]) -> list[Finding]:
    receivers = set(op_names) | _batch_aliases(upgrade, op_names)
    calls = [node for node in ast.walk(upgrade)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id in receivers]
    created = {_literal(call.args[0]) for call in calls
               if call.func.attr == "create_table" and call.args}  # type: ignore[attr-defined]
    changes_schema = any(call.func.attr in _SCHEMA_CALLS or call.func.attr == "create_table"  # type: ignore[attr-defined]
                         for call in calls)
    findings: list[Finding] = []
    for call in calls:
        name = call.func.attr  # type: ignore[attr-defined]
        on_op = call.func.value.id in op_names  # type: ignore[attr-defined]
        if _table_of(call, name) in created and _table_of(call, name) is not None:
            continue  # an empty table nobody uses yet: nothing to lock out
        findings.extend(_check_call(path, call, name, on_op, changes_schema))
    findings.extend(_opaque_data_changes(path, upgrade, op_names))
    return findings


def _table_of(call: ast.Call, name: str) -> str | None:
    if name not in _TABLE_ARG:
        return None
    index, keyword = _TABLE_ARG[name]
    for item in call.keywords:
        if item.arg == keyword:
            return _literal(item.value)
    return _literal(call.args[index]) if len(call.args) > index else None


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


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


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((item.value for item in call.keywords if item.arg == name), None)


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _check_call(path: str, call: ast.Call, name: str, on_op: bool, changes_schema: bool) -> list[Finding]:
    where = "" if on_op else " (batch)"
    args = ", ".join(_literal_text(arg) for arg in call.args)
    line = call.lineno

    def found(kind: str, detail: str, alternative: str | None = None) -> list[Finding]:
        return [Finding(path, line, name + where, detail, alternative or _ALTERNATIVES[kind])]

    if name in _SIMPLE_DESTRUCTIVE:
        return found(name, f"{name}({args})")
    if name == "alter_column":
        return [Finding(path, line, f"alter_column{where}", f"alter_column({args}, {text})",
                        _ALTERNATIVES[kind]) for kind, text in _altered(call)]
    if name == "create_index" and not _is_true(_keyword(call, "postgresql_concurrently")):
        return found("create_index", f"create_index({args}) without postgresql_concurrently=True "
                                     "blocks writes to the table while the index builds")
    if name == "create_foreign_key":
        return found("create_foreign_key", f"create_foreign_key({args}) validates every row "
                                           "while both tables are locked")
    if name == "create_check_constraint":
        return found("create_check_constraint", f"create_check_constraint({args}) scans the "
                                                "table under an exclusive lock")
    if name in ("create_primary_key", "create_unique_constraint"):
        return found("create_unique", f"{name}({args}) builds a unique index while the table is "
                                      "locked")
    if name == "add_column":
        column = next((arg for arg in call.args if isinstance(arg, ast.Call)), None)
        if column is not None and _required_without_default(column):
            return found("not_null_column", f"add_column({args}): NOT NULL without a "
                                            "server_default fails on existing rows and old writers")
    if name == "execute" and call.args:
        return _check_execute(path, call, changes_schema)
    return []


def _altered(call: ast.Call) -> list[tuple[str, str]]:
    altered = []
    for keyword in call.keywords:
        if keyword.arg in ("new_column_name", "type_"):
            altered.append((keyword.arg, f"{keyword.arg}={_literal_text(keyword.value)}"))
        elif (keyword.arg == "nullable" and isinstance(keyword.value, ast.Constant)
              and keyword.value.value is False):
            altered.append(("nullable=False", "nullable=False"))
    return altered


def _required_without_default(column: ast.Call) -> bool:
    """``sa.Column(..., nullable=False)`` with no ``server_default`` (and not a primary key)."""
    nullable = _keyword(column, "nullable")
    required = isinstance(nullable, ast.Constant) and nullable.value is False
    return (required and _keyword(column, "server_default") is None
            and not _is_true(_keyword(column, "primary_key")))


def _check_execute(path: str, call: ast.Call, changes_schema: bool) -> list[Finding]:
    sql = execute_sql(call)
    if sql is None:
        return [Finding(path, call.lineno, "execute", "SQL built at runtime cannot be read",
                        _ALTERNATIVES["dynamic"])]
    text = " ".join(sql.split())[:200]
    if _DESTRUCTIVE_SQL.search(sql):
        return [Finding(path, call.lineno, "execute", text, _ALTERNATIVES["execute"])]
    data = _DATA_SQL.search(sql)
    if data is not None and (changes_schema or not _WHERE.search(sql)):
        why = ("in the same migration as schema changes, so their locks are held while it runs"
               if changes_schema else "with no WHERE: every row, in one transaction")
        return [Finding(path, call.lineno, "execute", f"{data[1].upper()} {why}: {text}",
                        _ALTERNATIVES["backfill"])]
    return []


def _opaque_data_changes(path: str, upgrade: ast.FunctionDef, op_names: set[str]) -> list[Finding]:
    """``op.get_bind()`` and ORM sessions: data changes the check cannot read."""
    findings = []
    for node in ast.walk(upgrade):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "get_bind" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and func.value.id in op_names:
            what = "op.get_bind(): SQL run on the connection directly cannot be read"
        elif name in ("Session", "sessionmaker"):
            what = f"{name}(...): data changed through an ORM session cannot be read"
        else:
            continue
        findings.append(Finding(path, node.lineno, name, what, _ALTERNATIVES["opaque"]))
    return findings


def execute_sql(call: ast.Call) -> str | None:
    """The SQL text of ``op.execute("...")`` or ``op.execute(sa.text("..."))``; None when built at runtime."""
    return _sql_literal(call.args[0]) if call.args else None


def _sql_literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "text"):
        return _sql_literal(node.args[0])
    return None


def _literal_text(node: ast.expr) -> str:
    return repr(node.value) if isinstance(node, ast.Constant) else ast.unparse(node)


def execute_statements(source: str) -> list[tuple[int, str]]:
    """``(line, SQL)`` of every literal ``op.execute`` in ``upgrade()``, for squawk."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    statements = []
    for upgrade in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"):
        for node in ast.walk(upgrade):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "execute" and isinstance(node.func.value, ast.Name)):
                sql = execute_sql(node)
                if sql is not None:
                    statements.append((node.lineno, sql))
    return sorted(statements)
