"""The runner process's side of the attach socket.

Every view gets the journal's events after the sequence number it asks for, then every new
event as the runner journals it; nothing is sent that is not already on disk. Captains may
send commands, which end in the runner's one command path (`Runner.submit` → check authority
→ journal); viewers are answered with a refusal. While no captain is attached and production
runs the new version, the runner takes the --auto policy for breaches (finish the watch, roll
back on a sustained breach) and journals that it did so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..commands import Command
from ..decisions import Policy
from ..events import Event, EventKind
from ..machine import is_terminal, phase_of
from ..model import Release
from ..runner import Runner
from .protocol import CAPTAIN, VIEWER, bind_socket, decode, encode, peer_uid

HELLO_TIMEOUT = 10.0
DRAIN_ON_FINISH = 3.0

ReadAfter = Callable[[int], list[Event]]


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    role: str
    by: str
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class AttachServer:
    """Serves one runner on a Unix socket.

    Args:
        runner: the release's runner, running on this loop.
        read_after: the journal's events after a sequence number (the store's read).
        path: the socket's path (its folder is made 0700, the socket 0600).
        allowed_uid: the only uid that may connect (default: ours).
    """

    def __init__(self, runner: Runner, read_after: ReadAfter, path: Path, *, allowed_uid: int | None = None) -> None:
        self.runner = runner
        self.read_after = read_after
        self.path = Path(path)
        self.allowed_uid = os.getuid() if allowed_uid is None else allowed_uid
        self.base_policy: Policy = runner.policy
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._unattended_since_seq = 0
        runner.subscribe(self._on_event)

    @property
    def captains(self) -> int:
        return sum(1 for c in self.connections if c.role == CAPTAIN)

    async def start(self) -> None:
        listening = bind_socket(self.path)
        self._server = await asyncio.start_unix_server(self._serve, sock=listening)

    async def finish(self) -> None:
        """Tell every view the runner is done, let them read it, close, remove the socket."""
        if self._server is not None:
            self._server.close()
        phase = phase_of(self.runner.state).value
        for connection in list(self.connections):
            connection.outbox.put_nowait({"op": "finished", "phase": phase})
            connection.outbox.put_nowait(None)
        deadline = asyncio.get_running_loop().time() + DRAIN_ON_FINISH
        while self.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.writer.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self.path.unlink(missing_ok=True)

    # -- one connection ------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = peer_uid(writer.get_extra_info("socket"))
        except OSError:
            uid = -1
        if uid != self.allowed_uid:
            # The folder and socket modes already keep other users out; this holds even if
            # someone loosened them.
            writer.write(encode({"op": "refused", "message": f"uid {uid} may not attach to a release run by uid {self.allowed_uid}"}))
            await _close(writer)
            return
        try:
            hello = decode(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT))
            after = int(hello.get("after", 0))
            role = CAPTAIN if hello.get("role") == CAPTAIN else VIEWER
        except (ValueError, TypeError, asyncio.TimeoutError, ConnectionError):
            writer.write(encode({"op": "refused", "message": "expected a hello line first"}))
            await _close(writer)
            return
        connection = _Connection(writer, role, str(hello.get("by", ""))[:200])
        state = self.runner.state
        connection.outbox.put_nowait(
            {"op": "welcome", "release": state.id, "tag": state.tag, "pid": os.getpid(), "role": role}
        )
        # Read and subscribe with no await in between: the runner journals on this loop, so
        # no event can fall between the replay and the live feed.
        for event in self.read_after(after):
            connection.outbox.put_nowait({"op": "event", "event": event.to_record()})
        self.connections.add(connection)
        self._attendance_changed(connection, joined=True)
        sending = asyncio.create_task(self._send(connection))
        try:
            await self._receive(reader, connection)
        finally:
            self.connections.discard(connection)
            self._attendance_changed(connection, joined=False)
            connection.outbox.put_nowait(None)
            await asyncio.gather(sending, return_exceptions=True)
            await _close(writer)

    async def _send(self, connection: _Connection) -> None:
        while (message := await connection.outbox.get()) is not None:
            connection.writer.write(encode(message))
            try:
                await connection.writer.drain()
            except ConnectionError:
                return

    async def _receive(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        while True:
            try:
                line = await reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError, ValueError):
                return
            if not line:
                return
            try:
                message = decode(line)
            except ValueError:
                continue  # a garbled line is dropped; the connection stays
            if message["op"] == "command":
                self._command(connection, message)

    def _command(self, connection: _Connection, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if connection.role != CAPTAIN:
            refusal = "this is a read-only view (`shipdeck watch`): it cannot act. Run `shipdeck` to act as captain"
            connection.outbox.put_nowait({"op": "answer", "id": request_id, "refusal": refusal})
            return
        try:
            command = Command.from_dict(message.get("command") or {})
        except (TypeError, AttributeError):
            connection.outbox.put_nowait({"op": "answer", "id": request_id, "refusal": "malformed command"})
            return

        async def carry_out() -> None:
            try:
                refusal = await self.runner.submit(command)
            except AssertionError:
                refusal = "the runner is not running; try again in a moment"
            connection.outbox.put_nowait({"op": "answer", "id": request_id, "refusal": refusal})

        self._spawn(carry_out())

    # -- nobody at the wheel -------------------------------------------------------------

    def _on_event(self, event: Event, state: Release) -> None:
        message = {"op": "event", "event": event.to_record()}
        for connection in self.connections:
            connection.outbox.put_nowait(message)
        if event.kind is EventKind.ROLLBACK_REQUESTED and event.data.get("automatic") and self._acting_alone():
            self._note(f"rolled back on its own while nobody was attached: {event.data.get('reason', '')}")
        self._update_policy()

    def _attendance_changed(self, connection: _Connection, joined: bool) -> None:
        if connection.role == CAPTAIN and joined and self._acting_alone():
            self._note(f"{connection.by or 'a captain'} attached; shipdeck no longer acts on its own")
        self._update_policy()

    def _acting_alone(self) -> bool:
        return self.runner.policy.auto and not self.base_policy.auto

    def _update_policy(self) -> None:
        state = self.runner.state
        production_changed = state.production_runs_new_version or state.production_unknown
        alone = self.captains == 0 and production_changed and not is_terminal(state)
        wanted = self.base_policy.auto or alone
        if wanted == self.runner.policy.auto:
            return
        self.runner.policy = dataclasses.replace(self.base_policy, auto=wanted)
        if alone and not self.base_policy.auto:
            self._note(
                "nobody is attached and production has changed: shipdeck finishes the watch and rolls back on "
                "its own on a sustained breach (the --auto policy) until a captain attaches"
            )

    def _note(self, message: str) -> None:
        self._spawn(self.runner.emit(EventKind.NOTE, {"message": message}))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            print(f"shipdeck runner: {task.exception()!r}", file=sys.stderr)


async def _close(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass
