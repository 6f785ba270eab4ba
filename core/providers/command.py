"""The command deployer: the team's own deploy script, run as an argv (never through a shell).

The universal adapter: whatever deploys the product (a script around kubectl, Ansible, a
vendor CLI) becomes a shipdeck deployer. The exit status decides; output streams as the
deploy log; the deadline kills the whole process group. A rollback is the same command with
the previous version. `status_command` (optional, read-only) prints what production runs: it
is how a resume after a crash learns whether the deploy happened. Without it, shipdeck
cannot tell, and says so, unless `idempotent = true` declares that running the same deploy
again is safe.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..processes import CommandResult, expand_argv, run_command
from ..sanitize import plain
from ..versioning import tag_to_version
from .base import DeployProgress, DeployResult, ProgressCallback, ProviderError, Running, Unknown
from .registry import BuildContext, Check, ProviderSpec, Setting

LOG_BATCH_LINES = 20  # journal the deploy log in batches, not one event per line
LOG_BATCH_SECONDS = 0.5
STATUS_TIMEOUT = 60.0


@dataclass(frozen=True)
class CommandSettings:
    command: tuple[str, ...]
    status_command: tuple[str, ...]
    timeout: float
    idempotent: bool


class CommandDeployer:
    """Runs the configured deploy command for a tag; asks `status_command` what runs."""

    def __init__(self, settings: CommandSettings, *, cwd: Path | None, environment: str, tag_pattern: str) -> None:
        self.settings = settings
        self.cwd = cwd
        self.environment = environment
        self.tag_pattern = tag_pattern

    def _values(self, tag: str, key: str = "") -> dict[str, str]:
        version = tag_to_version(tag, self.tag_pattern)
        return {"tag": tag, "version": str(version) if version is not None else tag, "environment": self.environment, "key": key}

    def _env(self, values: Mapping[str, str]) -> dict[str, str]:
        env = dict(os.environ)
        env.update({f"SHIPDECK_{name.upper()}": value for name, value in values.items()})
        return env

    async def _run(self, argv: Sequence[str], values: Mapping[str, str], timeout: float, on_line: Any = None) -> CommandResult:
        expanded = expand_argv(argv, values)
        try:
            return await run_command(expanded, timeout=timeout, cwd=self.cwd, env=self._env(values), on_line=on_line)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
            raise ProviderError(
                f"the deploy command could not start: {expanded[0]}: {error.strerror or error}; "
                f"check [deploy] command in shipdeck.toml (relative paths start in {self.cwd or os.getcwd()})"
            ) from None

    async def deploy(
        self, tag: str, key: str, on_progress: ProgressCallback, restore: Mapping[str, str] | None = None
    ) -> DeployResult:
        values = self._values(tag, key)
        name = Path(self.settings.command[0]).name
        pending: list[str] = []
        last_flush = time.monotonic()

        async def flush(message: str) -> None:
            nonlocal last_flush
            lines = tuple(pending)
            pending.clear()
            last_flush = time.monotonic()
            await on_progress(DeployProgress(stage="deploy", message=message, log=lines))

        async def on_line(line: str) -> None:
            pending.append(line)
            if len(pending) >= LOG_BATCH_LINES or time.monotonic() - last_flush >= LOG_BATCH_SECONDS:
                await flush(line or f"{name} running")

        await on_progress(DeployProgress(stage="deploy", message=f"running {name} for {tag}"))
        result = await self._run(self.settings.command, values, self.settings.timeout, on_line)
        if pending:
            await flush(pending[-1] or result.describe())
        evidence = {"command": " ".join(expand_argv(self.settings.command, {**values, "key": "…"})), "ended": result.describe()}
        if result.tail:
            evidence["last output"] = result.tail[-1][:200]
        if result.timed_out:
            seen = await self._status_after(tag)
            if seen is None:
                raise Unknown(
                    f"{result.describe()}; whether {tag} reached production is unknown (no status_command to ask). "
                    "Check what production runs"
                )
            return DeployResult(tag, seen, f"{result.describe()}; status_command says production runs {'it' if seen else 'something else'}", evidence)
        if result.ok:
            return DeployResult(tag, True, f"{name} deployed {tag} in {result.duration:.1f}s", evidence)
        seen = await self._status_after(tag)
        if seen:  # the script failed late, after production changed: the watch must judge it
            return DeployResult(tag, True, f"{result.describe()}, but status_command says production runs {tag}", evidence)
        return DeployResult(tag, False, f"the deploy command failed: {result.describe()}", evidence)

    async def _status_after(self, tag: str) -> bool | None:
        """Whether production runs `tag` now, by `status_command`; None when it cannot tell."""
        if not self.settings.status_command:
            return None
        try:
            running = await self.running()
        except ProviderError:
            return None
        return None if running.version is None else running.version == tag

    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        if not self.settings.status_command:
            if self.settings.idempotent:
                return None  # declared safe to run again
            raise Unknown(
                "no status_command is configured to say what production runs, and the deploy command is not declared "
                "idempotent; check production by hand (or set [deploy] idempotent = true if running it again is safe)"
            )
        running = await self.running()
        if running.version == tag:
            return DeployResult(tag, True, f"status_command says production runs {tag} (reconciled)", {"status": running.detail})
        if self.settings.idempotent:
            return None
        raise Unknown(
            f"status_command says production runs {running.version or 'something it could not name'}, not {tag}; the deploy "
            "started before the restart may still be running or may have failed, and running it again is not declared safe "
            "([deploy] idempotent = true)"
        )

    async def running(self) -> Running:
        if not self.settings.status_command:
            return Running(None, "no status_command configured: the deploy command cannot say what production runs")
        values = self._values("", "")
        result = await self._run(self.settings.status_command, values, STATUS_TIMEOUT)
        if not result.ok:
            raise ProviderError(f"status_command failed: {result.describe()}: {(result.tail[-1] if result.tail else '')[:200]}")
        printed = next((line.strip() for line in result.tail if line.strip()), "")
        if not printed:
            return Running(None, "status_command printed nothing")
        return Running(self._as_tag(printed), f"status_command printed {plain(printed)[:80]!r}")

    def _as_tag(self, printed: str) -> str:
        """`1.4.0` or `v1.4.0` as the project's tag: status scripts print either."""
        if tag_to_version(printed, self.tag_pattern) is not None:
            return printed
        from ..versioning import parse_version, version_to_tag

        try:
            return version_to_tag(str(parse_version(printed.lstrip("v"))), self.tag_pattern)
        except ValueError:
            return printed


def _build(ctx: BuildContext) -> CommandDeployer:
    settings = CommandSettings(
        command=tuple(ctx.settings["command"]),
        status_command=tuple(ctx.settings.get("status_command") or ()),
        timeout=float(ctx.settings["timeout"]),
        idempotent=bool(ctx.settings["idempotent"]),
    )
    return CommandDeployer(settings, cwd=ctx.repo_path, environment=ctx.environment, tag_pattern=ctx.config.release.tag_pattern)


def _program(argv: Sequence[str], cwd: Path | None) -> tuple[bool, str]:
    program = argv[0]
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else (cwd or Path.cwd()) / program
        if not path.exists():
            return False, f"{program} does not exist (relative to {cwd or Path.cwd()})"
        if not os.access(path, os.X_OK):
            return False, f"{program} is not executable (chmod +x it)"
        return True, f"{program} is executable"
    found = shutil.which(program)
    return (True, f"{program} is {found}") if found else (False, f"{program} is not on PATH")


async def _check(ctx: BuildContext) -> list[Check]:
    deployer = _build(ctx)
    ok, detail = _program(deployer.settings.command, ctx.repo_path)
    rows = [Check(ok, "deploy.command", detail)]
    if not deployer.settings.status_command:
        rows.append(Check(True, "deploy.status_command", "not configured: after a crash mid-deploy shipdeck cannot tell what runs"))
        return rows
    ok, detail = _program(deployer.settings.status_command, ctx.repo_path)
    if not ok:
        return rows + [Check(False, "deploy.status_command", detail)]
    try:
        running = await deployer.running()
    except ProviderError as error:
        return rows + [Check(False, "deploy.status_command", str(error))]
    rows.append(Check(running.version is not None, "deploy.status_command", f"production runs {running.version}" if running.version else running.detail))
    return rows


PROVIDERS = (
    ProviderSpec(
        kind="deploy",
        name="command",
        summary="your own deploy command (an argv, never a shell); its exit status decides",
        settings={
            "command": Setting("argv", required=True, help='the deploy command, like ["./scripts/deploy.sh", "{version}", "{environment}"]'),
            "status_command": Setting("argv", help="prints the version production runs (read-only)"),
            "timeout": Setting("duration", default=900.0, minimum=1.0, help="the deadline; the process group is killed after it"),
            "idempotent": Setting("bool", default=False, help="running the same deploy again is safe (resume without asking)"),
        },
        build=_build,
        check=_check,
        example={
            "command": ["./scripts/deploy.sh", "{version}", "{environment}"],
            "status_command": ["./scripts/deployed-version.sh", "{environment}"],
            "timeout": "15m",
        },
    ),
)
