"""squawk (https://squawkhq.com) over the SQL a release's migrations run, beside the AST check.

The SQL is alembic's offline rendering of the whole range when the repository's environment
can produce it (``alembic upgrade A:heads --sql``, which runs the project's own Alembic env in
its own Python, as its CI would), else the literal text of each ``op.execute``. When squawk
is missing, fails, or has no SQL to read, the status says "squawk: not run (why)": never a pass.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .migrations_ast import Finding, execute_statements
from .migrations_folders import git_text

__all__ = ["SQUAWK_ENV", "STYLE_RULES", "find_squawk", "run_squawk"]

SQUAWK_ENV = "SHIPDECK_SQUAWK"  # the squawk executable to use, when not the installed one
# Rules about how SQL is written, not about locking out the running version; lock_timeout and
# statement_timeout belong in the Alembic env (once), not in every statement.
STYLE_RULES = ("prefer-robust-stmts", "prefer-bigint-over-int", "prefer-bigint-over-smallint",
               "prefer-identity", "prefer-text-field", "prefer-timestamptz",
               "require-lock-timeout", "require-statement-timeout", "require-timeout-settings")
_TIMEOUT = 120
_RUNNING = re.compile(r"^-- Running upgrade (?:\S+ )?-> (?P<revision>\S+)", re.MULTILINE)
_REVISION = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*['\"]([^'\"]*)['\"]", re.MULTILINE)


def find_squawk() -> tuple[str | None, str]:
    """The squawk executable, or None and why: $SHIPDECK_SQUAWK, beside our Python, on PATH."""
    configured = os.environ.get(SQUAWK_ENV)
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured, ""
        return None, f"{SQUAWK_ENV}={configured} is not an executable file"
    beside = Path(sys.executable).parent / "squawk"
    if beside.is_file():
        return str(beside), ""
    on_path = shutil.which("squawk")
    if on_path:
        return on_path, ""
    return None, f"squawk is not installed: pip install squawk-cli (looked in {beside.parent} and on PATH)"


def run_squawk(repo: Path, to_ref: str, sources: Mapping[str, str]) -> tuple[str, list[Finding]]:
    """squawk's status line and findings for the added migrations ``sources`` (path → text)."""
    if not sources:
        return "squawk: not run (no migrations added in the range)", []
    squawk, missing = find_squawk()
    if squawk is None:
        return f"squawk: not run ({missing})", []
    with tempfile.TemporaryDirectory(prefix="shipdeck-squawk-") as temp:
        offline, note = _offline_sql(repo, to_ref, sources, Path(temp))
        place: dict[Any, tuple[str, int, str]]
        if offline is not None:
            sql_file = Path(temp) / "release.sql"
            sql_file.write_text(offline, encoding="utf-8")
            place, files, what = _offline_places(offline, sources), [str(sql_file)], note
            transaction: list[str] = []  # alembic's output has its own BEGIN/COMMIT
        else:
            place = {}
            statements = [(path, line, sql) for path, source in sources.items()
                          for line, sql in execute_statements(source)]
            if not statements:
                return (f"squawk: not run (no SQL to read: the added migrations have no literal "
                        f"op.execute, and {note})"), []
            for index, (path, line, sql) in enumerate(statements):
                statement_file = Path(temp) / f"statement-{index}.sql"
                statement_file.write_text(sql.rstrip().rstrip(";") + ";\n", encoding="utf-8")
                place[str(statement_file)] = (path, line, sql)
            files, what = sorted(place), f"{len(statements)} op.execute statement(s) ({note})"
            transaction = ["--assume-in-transaction"]  # Alembic runs each migration in one
        argv = [squawk, "--reporter", "json", "--exclude", ",".join(STYLE_RULES), *transaction, *files]
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"squawk: not run ({squawk} could not run: {error})", []
    try:
        reported = json.loads(result.stdout) if result.returncode in (0, 1) else None
    except json.JSONDecodeError:
        reported = None
    if not isinstance(reported, list):
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        return f"squawk: not run ({squawk} exited {result.returncode}: {said[-1] if said else 'no output'})", []
    findings = [_finding(item, place, offline) for item in reported if isinstance(item, dict)]
    verdict = f"{len(findings)} finding(s)" if findings else "no findings"
    return f"squawk: {verdict} in {what}", findings


def _finding(item: Mapping[str, Any], place: Mapping[Any, tuple[str, int, str]], offline: str | None) -> Finding:
    """One squawk warning as a Finding on the migration file and line it came from."""
    rule, message = str(item.get("rule_name", "")), str(item.get("message", ""))
    help_text = str(item.get("help") or f"see https://squawkhq.com/docs/{rule}")
    first, last = int(item.get("line", 0)), int(item.get("line_end", item.get("line", 0)))
    if offline is not None:
        path, line, _ = place.get(first, ("(offline SQL)", 0, ""))
        text = " ".join(" ".join(offline.splitlines()[first:last + 1]).split())[:160]
        detail = f"{message} (offline SQL line {first + 1}: {text})"
    else:
        path, line, sql = place.get(str(item.get("file", "")), ("(unknown)", 0, ""))
        detail = f"{message} ({' '.join(sql.split())[:160]})"
    return Finding(path, line, f"squawk {rule}", detail, help_text, checker="squawk")


def _offline_places(sql: str, sources: Mapping[str, str]) -> dict[int, tuple[str, int, str]]:
    """Line of the offline SQL → (migration file, line of its ``def upgrade``, "")."""
    files: dict[str, tuple[str, int]] = {}
    for path, source in sources.items():
        revision = dict(_REVISION.findall(source)).get("revision")
        upgrade = next((n for n, text in enumerate(source.splitlines(), 1)
                        if text.startswith("def upgrade")), 1)
        if revision:
            files[revision] = (path, upgrade)
    places: dict[int, tuple[str, int, str]] = {}
    current: tuple[str, int] | None = None
    for number, text in enumerate(sql.splitlines()):
        running = _RUNNING.match(text)
        if running is not None:
            current = files.get(running["revision"])
        if current is not None:
            places[number] = (current[0], current[1], "")
    return places


def _offline_sql(repo: Path, to_ref: str, sources: Mapping[str, str], temp: Path) -> tuple[str | None, str]:
    """alembic's offline SQL for the added revisions, or None and why it is not available."""
    inis = sorted(p for p in git_text(repo, "ls-tree", "-r", "--name-only", to_ref).splitlines()
                  if p == "alembic.ini" or p.endswith("/alembic.ini"))
    if not inis:
        return None, f"alembic offline SQL is not available: no alembic.ini at {to_ref}"
    python = _repository_python(repo)
    if python is None:
        return None, ("alembic offline SQL is not available: alembic is not importable in the "
                      "repository's environment (.venv, venv, or shipdeck's own Python)")
    tree = temp / "tree"
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", to_ref],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        return None, f"alembic offline SQL is not available: git archive {to_ref} failed"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    start = _first_down_revision(sources)
    span = f"{start}:heads" if start else "heads"
    ini = tree / inis[0]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(tree), str(ini.parent))))
    try:
        rendered = subprocess.run([python, "-m", "alembic", "-c", str(ini), "upgrade", span, "--sql"],
                                  cwd=ini.parent, env=env, capture_output=True, text=True,
                                  timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"alembic offline SQL is not available: {error}"
    if rendered.returncode != 0:
        said = rendered.stderr.strip().splitlines()
        return None, f"alembic could not render offline SQL: {said[-1] if said else 'exit ' + str(rendered.returncode)}"
    return rendered.stdout, f"alembic's offline SQL (alembic upgrade {span} --sql, {inis[0]})"


def _repository_python(repo: Path) -> str | None:
    """The first Python that can import alembic: the repository's venv, else our own."""
    for candidate in (repo / ".venv" / "bin" / "python", repo / "venv" / "bin" / "python", Path(sys.executable)):
        if candidate.is_file():
            probe = subprocess.run([str(candidate), "-c", "import alembic"], capture_output=True, check=False)
            if probe.returncode == 0:
                return str(candidate)
    return None


def _first_down_revision(sources: Mapping[str, str]) -> str | None:
    """The revision the added migrations start from (the one not among them)."""
    revisions: dict[str, str | None] = {}
    for source in sources.values():
        values = dict(_REVISION.findall(source))
        if "revision" in values:
            revisions[values["revision"]] = values.get("down_revision") or None
    starts = [down for down in revisions.values() if down not in revisions]
    return starts[0] if starts else None
