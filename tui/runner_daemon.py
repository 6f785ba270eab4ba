"""The runner as its own process: started detached from the terminal, serving the attach socket.

`spawn_runner` starts `python -m shipdeck.tui.runner_daemon` in a new session (no controlling
terminal, stdio to `runner.log` in the state folder) and waits for it to say, on a pipe of
its own, that it holds the lock and serves its socket — or why it could not start (the same
message and exit code the command would have given in the foreground). The process owns the
journal, the lock and the providers; views attach and detach as they like.

Textual is never imported here: the runner process is headless.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from shipdeck.core.attach.protocol import AttachError, connect_socket, log_path, private_dir, socket_path

if TYPE_CHECKING:  # the cockpit imports this module to start the runner: nothing heavy at import
    from shipdeck.core.options import Options
    from shipdeck.core.session import Session

START_TIMEOUT = 120.0  # opening a session builds every provider; a slow git remote can take a while


@dataclass(frozen=True)
class Started:
    """What the runner process said when it started (or why it did not)."""

    ok: bool
    message: str = ""
    code: int = 0
    pid: int = 0
    socket: str = ""
    notes: tuple[str, ...] = ()


def runner_serving(store_root: Path) -> bool:
    """True when a live runner answers on this store's socket."""
    try:
        connect_socket(socket_path(store_root), timeout=2.0).close()
    except AttachError:
        return False
    return True


def spawn_runner(options: Options, store_root: Path) -> Started:
    """Start a detached runner for `options` and wait until it serves its socket or fails."""
    return launch_runner(options, store_root).wait()


@dataclass
class Launch:
    """A runner process just started: `wait` blocks until it serves its socket or gives up.

    The cockpit starts one and opens its first frame at once, waiting in a worker thread.
    """

    process: subprocess.Popen[bytes]
    read_fd: int
    log: Path

    def wait(self, timeout: float = START_TIMEOUT) -> Started:
        """What the runner said on its status pipe (or that it exited or stayed silent)."""
        try:
            line = _read_line(self.read_fd, timeout)
        finally:
            os.close(self.read_fd)
        if not line:
            code = self.process.poll()
            what = f"exited with {code}" if code is not None else f"did not answer within {timeout:g}s"
            return Started(ok=False, code=1, message=f"shipdeck: the runner process {what}; its log is {self.log}")
        report = json.loads(line)
        return Started(
            ok=bool(report.get("ok")),
            message=str(report.get("message", "")),
            code=int(report.get("code", 0)),
            pid=int(report.get("pid", self.process.pid)),
            socket=str(report.get("socket", "")),
            notes=tuple(report.get("notes", ())),
        )


def launch_runner(options: Options, store_root: Path) -> Launch:
    """Start a detached runner for `options`; returns at once (see `Launch.wait`)."""
    read_fd, write_fd = os.pipe()
    log = log_path(store_root)
    private_dir(log.parent)
    spec = {field.name: str(value) if isinstance(value, Path) else value for field, value in
            ((f, getattr(options, f.name)) for f in dataclasses.fields(options))}
    spec["config_path"] = str(Path(options.config_path).resolve())
    spec["repo_path"] = str(Path(options.repo_path).resolve())
    spec["status_fd"] = write_fd
    with open(log, "ab") as log_file:
        os.chmod(log, 0o600)
        process = subprocess.Popen(
            [sys.executable, "-m", "shipdeck.tui.runner_daemon", json.dumps(spec)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # its own session: no terminal, no SIGHUP when the SSH link drops
            pass_fds=(write_fd,),
        )
    os.close(write_fd)
    return Launch(process, read_fd, log)


def _read_line(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break  # the process closed its end (it exited) without a word
        data += chunk
    return data.split(b"\n", 1)[0]


def _report(fd: int, message: dict[str, Any]) -> None:
    try:
        os.write(fd, (json.dumps(message) + "\n").encode())
        os.close(fd)
    except OSError:
        pass  # whoever started us is gone; the log and the journal still say everything


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the runner process (argv: one JSON object of Options and status_fd)."""
    from shipdeck.core.session import Options, open_session
    from shipdeck.tui.cli import known_failure

    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    status_fd = int(spec.pop("status_fd"))
    spec["config_path"], spec["repo_path"] = Path(spec["config_path"]), Path(spec["repo_path"])
    options = Options(**spec)
    # A new session has no terminal to hang up, but a parent's stray SIGHUP must not stop us either.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    print(f"--- runner pid {os.getpid()} started {time.strftime('%Y-%m-%d %H:%M:%S')} ({options.command_name})", file=sys.stderr, flush=True)
    try:
        session = open_session(options)
    except Exception as error:  # noqa: BLE001 - reported to the command that started us
        known = known_failure(error)
        if known is None:
            traceback.print_exc()
            known = (f"shipdeck: the runner could not start: {error.__class__.__name__}: {error} (see {sys.stderr.name})", 1)
        _report(status_fd, {"ok": False, "message": known[0], "code": known[1]})
        return known[1]
    return asyncio.run(serve(session, status_fd))


async def serve(session: Session, status_fd: int) -> int:
    """Run the release and serve the socket until the runner ends; then close everything."""
    from shipdeck.core.attach.server import AttachServer
    from shipdeck.core.exit_codes import exit_code_for
    from shipdeck.tui.commands.run import SignalStop

    runner, store = session.runner, session.store
    path = socket_path(store.root)
    release_id = runner.state.id
    server = AttachServer(runner, lambda after: store.read_after(release_id, after), path)
    stop = SignalStop(runner, signals=(signal.SIGTERM, signal.SIGINT))
    running = asyncio.create_task(stop.run())
    try:
        await server.start()
        _report(status_fd, {"ok": True, "pid": os.getpid(), "socket": str(path), "notes": session.notes})
        state = await running
    finally:
        if not running.done():
            running.cancel()
        await server.finish()
        session.close()
    print(f"--- runner pid {os.getpid()} ended at {state.tag} {exit_code_for(state).name}", file=sys.stderr, flush=True)
    return int(exit_code_for(state))


if __name__ == "__main__":
    sys.exit(main())
