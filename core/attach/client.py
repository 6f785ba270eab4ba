"""The view's side of the attach socket: a link to a runner in another process.

`SocketLink` is what the cockpit and `watch` hold instead of a Runner: it folds the events
the runner sends into `state`, calls subscribers on the view's loop, and sends commands.
Closing it detaches; the runner and the release go on.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any, Callable, Iterable

from ..commands import Command
from ..events import Event
from ..machine import apply, fold, is_terminal, phase_of
from ..model import Release
from .protocol import CAPTAIN, AttachError, connect_socket, decode, encode

Subscriber = Callable[[Event, Release], None]


class SocketLink:
    """Attach to the runner serving `path`.

    Args:
        path: the runner's socket.
        role: "captain" (may send commands) or "viewer" (read-only; the runner refuses commands).
        by: who is attaching (shown in the journal when a captain returns).
        history: events the view already has (read from the journal); only later ones are asked for.
    """

    def __init__(self, path: Path, *, role: str = CAPTAIN, by: str = "", history: Iterable[Event] = ()) -> None:
        self.path = Path(path)
        self.role = role
        self.by = by
        events = list(history)
        self.state: Release = fold(events)
        self.last_seq = events[-1].seq if events else 0
        self.runner_pid = 0
        self.finished = False
        self._subscribers: list[Subscriber] = []
        self._writer: asyncio.StreamWriter | None = None
        self._answers: dict[int, asyncio.Future[str | None]] = {}
        self._ids = itertools.count(1)
        self._detached = False

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def run(self) -> Release:
        """Follow the runner until it finishes (or this view detaches); the state at the end.

        Raises AttachError when the runner cannot be reached or goes away mid-release.
        """
        sock = connect_socket(self.path)
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=2**22)
        self._writer = writer
        writer.write(encode({"op": "hello", "after": self.last_seq, "role": self.role, "by": self.by}))
        try:
            await writer.drain()
            while line := await reader.readline():
                self._handle(decode(line))
                if self.finished:
                    break
        except (ConnectionError, ValueError) as error:
            if not self._detached:
                raise AttachError(f"lost the runner at {self.path}: {error}") from None
        finally:
            self._writer = None
            for future in self._answers.values():
                if not future.done():
                    future.set_result("the runner went away before answering; the journal shows what it did")
            writer.close()
        if not self.finished and not self._detached and not is_terminal(self.state):
            raise AttachError(
                f"the runner (pid {self.runner_pid}) went away with {self.state.tag or 'the release'} at "
                f"{phase_of(self.state).value}; the journal keeps it: `shipdeck resume` continues"
            )
        return self.state

    def _handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "event":
            event = Event.from_record(message["event"])
            if event.seq <= self.last_seq:
                return  # already had it from the journal
            self.last_seq = event.seq
            self.state = apply(self.state, event)
            for subscriber in list(self._subscribers):
                subscriber(event, self.state)
        elif op == "answer":
            future = self._answers.pop(int(message.get("id") or 0), None)
            if future is not None and not future.done():
                refusal = message.get("refusal")
                future.set_result(None if refusal is None else str(refusal))
        elif op == "welcome":
            self.runner_pid = int(message.get("pid") or 0)
        elif op == "finished":
            self.finished = True
        elif op == "refused":
            raise AttachError(f"the runner refused this connection: {message.get('message', '')}")

    def submit(self, command: Command) -> asyncio.Future[str | None]:
        """Send a command; the future resolves to None when carried out, else the refusal."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        if self._writer is None:
            future.set_result("not attached to the runner")
            return future
        request_id = next(self._ids)
        self._answers[request_id] = future
        self._writer.write(encode({"op": "command", "id": request_id, "command": command.to_dict()}))
        return future

    def stop(self) -> None:
        """Detach. The runner goes on with the release."""
        self._detached = True
        if self._writer is not None:
            self._writer.close()


async def send_command(path: Path, command: Command, *, after: int) -> str | None:
    """Send one command to the runner at `path` as a captain; its refusal, or None when done.

    `after` is the last sequence number the sender knows, so the runner does not replay the
    journal to a connection that only wants an answer.
    """
    link = SocketLink(path, role=CAPTAIN, by=command.by)
    link.last_seq = after
    following = asyncio.create_task(link.run())
    while link._writer is None:  # connected and hello sent once run() has a writer
        if following.done():
            following.result()  # raises AttachError
            return "the runner ended before it could be asked"
        await asyncio.sleep(0.01)
    try:
        return await asyncio.wait_for(link.submit(command), timeout=60.0)
    finally:
        link.stop()
        await asyncio.gather(following, return_exceptions=True)
