"""`kind = "command"` smoke checks: a real subprocess, placeholders, and a deadline over its group."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import tomllib
from pathlib import Path

from shipdeck.core.providers.http_smoke import HttpSmoke
from shipdeck.core.providers.smoke_checks import parse_checks
from shipdeck.core.runner.preflight import smoke_evidence


def _command_check(argv: list[str], timeout: str = "10s"):
    quoted = ", ".join(f'"{arg}"' for arg in argv)
    return parse_checks(tomllib.loads(f'[smoke]\n[[smoke.checks]]\nname = "cmd"\nkind = "command"\nargv = [{quoted}]\ntimeout = "{timeout}"\n')["smoke"])


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "check.py"
    path.write_text(body, encoding="utf-8")
    return str(path)


def _run(checks, tmp_path: Path, environ: dict[str, str] | None = None):
    runner = HttpSmoke(checks, environ={**os.environ, **(environ or {})}, cwd=tmp_path)
    [result] = asyncio.run(runner.run_version("staging", "http://127.0.0.1:9/base", "v1.4.0"))
    return result


def test_a_command_check_passes_with_its_placeholders_as_literal_arguments(tmp_path: Path) -> None:
    script = _script(tmp_path, "import sys, pathlib; pathlib.Path('args').write_text('|'.join(sys.argv[1:]))\n")
    result = _run(_command_check([sys.executable, script, "{environment}", "{url}", "{version}", "$(touch pwned)"]), tmp_path)
    assert result.passed, result.detail
    assert (tmp_path / "args").read_text() == "staging|http://127.0.0.1:9/base|v1.4.0|$(touch pwned)"
    assert not (tmp_path / "pwned").exists() and result.duration > 0


def test_a_failing_command_reports_its_exit_and_last_lines_masked(tmp_path: Path) -> None:
    script = _script(tmp_path, "import os; print('checking as', os.environ['SMOKE_PASSWORD']); print('\\x1b[31mno email\\x1b[0m'); raise SystemExit(3)\n")
    checks = parse_checks(tomllib.loads(
        f'[smoke]\n[[smoke.checks]]\nname = "login"\nsteps = [{{ path = "/", json = {{ p = "${{SMOKE_PASSWORD}}" }} }}]\n'
        f'[[smoke.checks]]\nname = "cmd"\nkind = "command"\nargv = ["{sys.executable}", "{script}"]\n'
    )["smoke"])
    runner = HttpSmoke(checks, environ={**os.environ, "SMOKE_PASSWORD": "hunter2-secret"}, cwd=tmp_path)
    result = asyncio.run(runner.run("staging", ""))[1]
    assert not result.passed
    assert result.got.startswith(f"{Path(sys.executable).name} exited 3 after ")
    assert "checking as *** | no email" in result.got
    assert "hunter2-secret" not in result.got + result.detail and "\x1b" not in result.got
    assert result.expected == "exit 0 within 60s"
    evidence = smoke_evidence(result)
    assert evidence.count("exited 3") == 1 and "expected exit 0 within 60s" in evidence


def test_a_command_past_its_deadline_is_killed_with_its_children(tmp_path: Path) -> None:
    script = _script(tmp_path, (
        "import subprocess, sys, time, pathlib\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "pathlib.Path('child.pid').write_text(str(child.pid))\n"
        "time.sleep(60)\n"
    ))
    started = time.monotonic()
    result = _run(_command_check([sys.executable, script], timeout="1s"), tmp_path)
    assert not result.passed and "did not finish within its deadline" in result.detail
    assert time.monotonic() - started < 10
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the deadline left the command's child running"


def test_a_command_that_cannot_start_fails_naming_it(tmp_path: Path) -> None:
    result = _run(_command_check(["./scripts/missing.sh", "{environment}"]), tmp_path)
    assert not result.passed and result.detail.startswith(f"cannot start ./scripts/missing.sh (in {tmp_path})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (reaped by nobody yet) counts as gone
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False
