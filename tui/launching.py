"""A link to a runner process that is still starting: the cockpit's first frame does not wait.

`shipdeck` / `shipdeck release` start the runner process and the cockpit at the same time.
The cockpit holds a `LaunchingLink`: until the runner answers on its socket, `state` is what
the journal on disk says (or nothing, for a release the runner has yet to start) and commands
are refused as "not attached"; `attach` waits for the runner (in a thread of its own), reads
the journal it wrote, and from then on everything goes through a `SocketLink`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Callable, TypeVar

from shipdeck.core.attach.client import SocketLink
from shipdeck.core.attach.protocol import socket_path
from shipdeck.core.commands import Command
from shipdeck.core.events import Event
from shipdeck.core.machine import fold
from shipdeck.core.model import Release
from shipdeck.core.store import Store

from .runner_daemon import Launch, Started

Subscriber = Callable[[Event, Release], None]
T = TypeVar("T")
NOT_ATTACHED = "not attached to the runner yet: it is still starting; try again in a moment"


class RunnerDidNotStart(Exception):
    """The runner process reported why it could not start (its message and exit code)."""

    def __init__(self, started: Started) -> None:
        super().__init__(started.message)
        self.started = started


class LaunchingLink:
    """Args:
    launch: the runner process just started.
    store: where its journal is read once it serves.
    role, by: as for `SocketLink`.
    history: the journal on disk when the cockpit opened (empty for a release not started yet).
    """

    def __init__(self, launch: Launch, store: Store, *, role: str, by: str, history: list[Event]) -> None:
        self.launch = launch
        self.store = store
        self.role = role
        self.by = by
        self.history = list(history)
        self.state: Release = fold(self.history)
        self.started: Started | None = None
        self._link: SocketLink | None = None
        self._subscribers: list[Subscriber] = []
        self._detached = False

    @property
    def attached(self) -> bool:
        return self._link is not None

    @property
    def runner_pid(self) -> int:
        return self._link.runner_pid if self._link is not None and self._link.runner_pid else self.launch.process.pid

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)
        if self._link is not None:
            self._link.subscribe(subscriber)

    async def attach(self) -> list[Event]:
        """Wait until the runner serves; the journal's events then. Raises RunnerDidNotStart."""
        started = await _in_daemon_thread(self.launch.wait)
        self.started = started
        if not started.ok:
            raise RunnerDidNotStart(started)
        active = await _in_daemon_thread(self.store.active)
        if active is None:
            raise RunnerDidNotStart(Started(ok=False, code=1, message=(
                "shipdeck: the runner ended before this view attached; `shipdeck status` shows where the release stands")))
        self.history = active[1]
        link = SocketLink(socket_path(self.store.root), role=self.role, by=self.by, history=self.history)
        for subscriber in self._subscribers:
            link.subscribe(subscriber)
        self._link = link
        self.state = link.state
        return self.history

    async def run(self) -> Release:
        """Follow the runner once attached (see `SocketLink.run`)."""
        if self._link is None:
            await self.attach()
        assert self._link is not None
        try:
            return await self._link.run()
        finally:
            self.state = self._link.state

    def submit(self, command: Command) -> asyncio.Future[str | None]:
        if self._link is not None:
            return self._link.submit(command)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        future.set_result(NOT_ATTACHED)
        return future

    def stop(self) -> None:
        """Detach (or never attach). The runner goes on with the release either way."""
        self._detached = True
        if self._link is not None:
            self._link.stop()


async def _in_daemon_thread(function: Callable[[], T]) -> T:
    # Not asyncio.to_thread: its pool is joined at exit, and a captain who quits while the
    # runner is still starting must not wait for it.
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def call() -> None:
        try:
            result = function()
        except BaseException as error:  # noqa: BLE001 - handed to the loop as the future's exception
            loop.call_soon_threadsafe(_settle, future, None, error)
        else:
            loop.call_soon_threadsafe(_settle, future, result, None)

    threading.Thread(target=call, name="shipdeck-attach", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
