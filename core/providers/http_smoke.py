"""`[smoke] provider = "http"`: the critical paths as HTTP requests (httpx) or commands.

Each `[[smoke.checks]]` runs in order against the environment's base URL. A check passes only
when it ran and met every expectation: a missing `${VAR}`, a missing base URL, a request that
got no answer, a command that could not start or ran out of time are all failures, each with
the request, the expectation and what came back (bodies cut, secrets masked).

httpx is imported only when a check runs, so loading a config stays cheap.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..processes import expand_argv, run_command
from ..secrets import Secret, mask
from .base import SmokeResult
from .registry import BuildContext, Check, ProviderSpec, Setting
from .smoke_checks import SmokeCheck, check_section, parse_checks
from .smoke_http import Values, cut, run_http_check

__all__ = ["HttpSmoke", "PROVIDERS"]


class HttpSmoke:
    """The smoke runner: `run` / `run_version` give one SmokeResult per configured check, in order."""

    def __init__(self, checks: Sequence[SmokeCheck], *, environ: Mapping[str, str], timeout: float = 10.0, cwd: Path | None = None) -> None:
        """Args:
        checks: the validated `[[smoke.checks]]`.
        environ: where `${VAR}` is read (and the environment command checks inherit).
        timeout: seconds per HTTP request.
        cwd: where command checks run (the product's repository: `./scripts/…` is relative to it).
        """
        self.checks = tuple(checks)
        self.environ = environ
        self.timeout = float(timeout)
        self.cwd = cwd

    def __repr__(self) -> str:  # the environment holds secrets: never show it
        return f"HttpSmoke(checks={[check.name for check in self.checks]!r}, timeout={self.timeout:g})"

    async def run(self, environment: str, base_url: str) -> list[SmokeResult]:
        """Run every check against `base_url` (the environment's `url`)."""
        return await self.run_version(environment, base_url, "")

    async def run_version(self, environment: str, base_url: str, version: str) -> list[SmokeResult]:
        """Run every check; `version` (the tag expected to run there) fills `{version}` in commands."""
        _quiet_http_logs()
        secrets = self._known_secrets()
        results = []
        for check in self.checks:
            started = time.monotonic()
            if check.kind == "command":
                result = await self._command(check, environment, base_url, version, secrets)
            else:
                result = await self._http(check, environment, base_url)
            results.append(_timed(result, time.monotonic() - started))
        return results

    async def _http(self, check: SmokeCheck, environment: str, base_url: str) -> SmokeResult:
        first = check.steps[0].request
        missing = sorted(name for name in check.variables() if not self.environ.get(name))
        if missing:
            listed = ", ".join(missing)
            detail = f"{listed} {'is' if len(missing) == 1 else 'are'} not set: export {'it' if len(missing) == 1 else 'them'} in the captain's shell (the check did not run)"
            return SmokeResult(check.name, False, detail, request=first, expected="the check's variables set", got="not run")
        if not base_url:
            detail = f"no base URL for {environment}: set [environments.{environment}] url (the check did not run)"
            return SmokeResult(check.name, False, detail, request=first, expected=f"[environments.{environment}] url", got="not run")
        values = Values({name: Secret(name, self.environ[name]) for name in check.variables()})
        outcomes, failing = await run_http_check(check, base_url, values, self.timeout)
        lines = tuple(outcome.line() for outcome in outcomes)
        if failing is None:
            return SmokeResult(check.name, True, f"{len(outcomes)} request(s) as expected", steps=lines)
        last = outcomes[-1]
        number = len(outcomes)
        detail = f"step {number} {last.request}: {'; '.join(last.problems)}"
        return SmokeResult(check.name, False, detail, request=last.request, expected=failing.expect.describe(), got=last.got, steps=lines)

    async def _command(self, check: SmokeCheck, environment: str, base_url: str, version: str, secrets: list[Secret]) -> SmokeResult:
        argv = expand_argv(check.argv, {"environment": environment, "url": base_url, "version": version})
        request = " ".join(argv)
        expected = f"exit 0 within {check.timeout:g}s"
        try:
            outcome = await run_command(argv, timeout=check.timeout, cwd=self.cwd, env=dict(self.environ))
        except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
            where = f" (in {self.cwd})" if self.cwd else ""
            detail = f"cannot start {argv[0]}{where}: {error.strerror or error}; fix argv in [[smoke.checks]] {check.name!r}"
            return SmokeResult(check.name, False, detail, request=request, expected=expected, got="not started")
        tail = " | ".join(outcome.tail[-5:])
        got = mask(cut(outcome.describe() + (f": {tail}" if tail else "")), secrets)
        if outcome.ok:
            return SmokeResult(check.name, True, outcome.describe(), request=request, steps=(got,))
        return SmokeResult(check.name, False, got, request=request, expected=expected, got=got, steps=(got,))

    def _known_secrets(self) -> list[Secret]:
        """Every `${VAR}` value any check reads: a command's output is masked with all of them."""
        names = sorted({name for check in self.checks for name in check.variables()})
        return [Secret(name, self.environ[name]) for name in names if self.environ.get(name)]


def _timed(result: SmokeResult, seconds: float) -> SmokeResult:
    from dataclasses import replace

    return replace(result, duration=seconds)


def _quiet_http_logs() -> None:
    """httpx logs every request's full URL at INFO; a URL can carry a saved token."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def build(ctx: BuildContext) -> HttpSmoke:
    section = ctx.config.raw.get("smoke", {})
    return HttpSmoke(parse_checks(section), environ=ctx.environ, timeout=ctx.settings["timeout"], cwd=ctx.repo_path)


async def check(ctx: BuildContext) -> list[Check]:
    """`shipdeck doctor`: each `${VAR}` set, each environment's URL, each command present."""
    checks = parse_checks(ctx.config.raw.get("smoke", {}))
    rows = [Check(True, "smoke checks", f"{len(checks)} configured: {', '.join(c.name for c in checks)}")]
    for name in sorted({name for c in checks for name in c.variables()}):
        present = bool(ctx.environ.get(name))
        rows.append(Check(present, f"smoke variable {name}", "set" if present else f"not set: the checks using it fail until it is exported"))
    if any(c.kind == "http" for c in checks):
        for environment in ("staging", ctx.environment):
            url = str(ctx.config.environments.get(environment, {}).get("url", ""))
            rows.append(Check(bool(url), f"smoke base URL for {environment}", url or f"not set: add [environments.{environment}] url"))
    for command in (c for c in checks if c.kind == "command"):
        program = command.argv[0]
        path = Path(program) if "/" in program else None
        if path is not None and not path.is_absolute() and ctx.repo_path is not None:
            path = ctx.repo_path / path
        found = os.access(path, os.X_OK) if path is not None else _on_path(program, ctx.environ)
        rows.append(Check(found, f"smoke command {command.name!r}", program if found else f"{program} is not an executable file"))
    return rows


def _on_path(program: str, environ: Mapping[str, str]) -> bool:
    import shutil

    return shutil.which(program, path=environ.get("PATH")) is not None


EXAMPLE: Mapping[str, Any] = {"provider": "http", "timeout": "10s"}

PROVIDERS = (
    ProviderSpec(
        "smoke",
        "http",
        "HTTP smoke checks of the critical paths (httpx), and command checks",
        {"timeout": Setting("duration", default=10.0, minimum=0.1, help="seconds per HTTP request")},
        build=build,
        check=check,
        check_section=check_section,
        example=EXAMPLE,
    ),
)
