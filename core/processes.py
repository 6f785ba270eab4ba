"""Run a configured command: an argv (never a shell line) with a deadline over its whole process group.

The command deployer and the `command` smoke checks share this. Placeholders such as
`{version}` are replaced inside each argument, so a value like `$(touch x)` or `; rm -rf ~`
stays one literal argument. Output streams line by line (as the deploy log) and the deadline
kills the whole process group, so a script's children never outlive it.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Mapping, Sequence

from .sanitize import plain

if TYPE_CHECKING:
    import asyncio

LineCallback = Callable[[str], Awaitable[None]]
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL to the group
TAIL_LINES = 40


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int | None  # None when the deadline killed it
    timed_out: bool
    duration: float
    tail: tuple[str, ...]  # the last lines of output (stdout and stderr interleaved), cleaned

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line: how the command ended."""
        name = Path(self.argv[0]).name if self.argv else "command"
        if self.timed_out:
            return f"{name} did not finish within its deadline ({self.duration:.0f}s) and was killed with its process group"
        if self.returncode is not None and self.returncode < 0:
            return f"{name} was killed by signal {-self.returncode}"
        return f"{name} exited {self.returncode} after {self.duration:.1f}s"


def expand_argv(argv: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Each `{name}` in each argument replaced by its value, literally (never split, never a shell).

    Unknown placeholders are left as written, so a literal brace in an argument survives.
    """
    expanded = []
    for argument in argv:
        for name, value in values.items():
            argument = argument.replace("{" + name + "}", value)
        expanded.append(argument)
    return expanded


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    tail_lines: int = TAIL_LINES,
) -> CommandResult:
    """Run `argv` to its end or its deadline; a cancelled caller kills the group too.

    Raises FileNotFoundError / PermissionError when the program cannot be started.
    """
    import asyncio  # here, not at the top: provider discovery imports this module on every CLI start
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd) if cwd is not None else None,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: the deadline reaches every child
    )
    tail: deque[str] = deque(maxlen=tail_lines)

    async def pump() -> None:
        assert process.stdout is not None
        while True:
            raw = await process.stdout.readline()
            if not raw:
                break
            line = plain(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            tail.append(line)
            if on_line is not None:
                await on_line(line)

    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await pump()
            await process.wait()
    except TimeoutError:
        timed_out = True
        await _kill_group(process)
    except BaseException:
        await _kill_group(process)
        raise
    return CommandResult(tuple(argv), None if timed_out else process.returncode, timed_out, time.monotonic() - started, tuple(tail))


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the whole group, SIGKILL after a grace period."""
    import asyncio
    for sig, wait in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, KILL_GRACE)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), wait)
            # the leader is gone; children that ignored SIGTERM still get the SIGKILL below
        except TimeoutError:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
