"""The in-process link: the runner on a thread of its own, so its journal writes and fsyncs
never run on the view's event loop.

For the demo's cockpit (a runner process would outlive a demo nobody is watching) and for
anything else that hosts the runner in the viewing process. Events cross to the view's loop
with `call_soon_threadsafe`, in order; commands cross back with `run_coroutine_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Callable

from ..commands import Command
from ..events import Event
from ..model import Release
from ..runner import Runner

Subscriber = Callable[[Event, Release], None]
STOP_GRACE_SECONDS = 10.0


class ThreadedRunnerLink:
    """Runs `runner` on its own thread and loop; a view talks to it from its own loop."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._subscribers: list[Subscriber] = []
        self._view_loop: asyncio.AbstractEventLoop | None = None
        self._runner_loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Release] | None = None
        self._thread: threading.Thread | None = None
        runner.subscribe(self._forward)

    @property
    def state(self) -> Release:
        return self.runner.state  # an immutable value, replaced whole: safe to read across threads

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def _forward(self, event: Event, state: Release) -> None:
        # On the runner's thread, right after the event is on disk.
        if self._view_loop is not None and not self._view_loop.is_closed():
            for subscriber in list(self._subscribers):
                self._view_loop.call_soon_threadsafe(subscriber, event, state)

    async def run(self) -> Release:
        """Run the release on the runner's thread until it is over (or stopped); its state."""
        self._view_loop = asyncio.get_running_loop()
        finished: asyncio.Future[Release] = self._view_loop.create_future()
        started = threading.Event()
        view_loop = self._view_loop

        def settle(result: Release | None, error: BaseException | None) -> None:
            if finished.done():
                return
            if error is not None:
                finished.set_exception(error)
            else:
                finished.set_result(result if result is not None else self.runner.state)

        def body() -> None:
            loop = asyncio.new_event_loop()
            self._runner_loop = loop
            self._task = loop.create_task(self.runner.run())
            started.set()
            try:
                result = loop.run_until_complete(self._task)
                view_loop.call_soon_threadsafe(settle, result, None)
            except BaseException as error:  # noqa: BLE001 - handed to the view's loop
                if not view_loop.is_closed():
                    view_loop.call_soon_threadsafe(settle, None, error)
            finally:
                loop.close()

        self._thread = threading.Thread(target=body, name="shipdeck-runner", daemon=True)
        self._thread.start()
        started.wait()
        try:
            return await asyncio.shield(finished)
        except asyncio.CancelledError:
            # The view is closing: cancel the runner as the in-loop runner was, and wait for it
            # so the journal is closed by whoever closes the session next.
            self._cancel_and_join()
            raise

    def _cancel_and_join(self) -> None:
        if self._runner_loop is not None and self._task is not None and not self._runner_loop.is_closed():
            try:
                self._runner_loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:
                pass  # the loop closed meanwhile: the runner is already over
        if self._thread is not None:
            self._thread.join(STOP_GRACE_SECONDS)

    def submit(self, command: Command) -> asyncio.Future[str | None]:
        """Queue a command with the runner; resolves on the view's loop to None or the refusal."""
        if self._runner_loop is None or self._runner_loop.is_closed():
            future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
            future.set_result("the runner is not running")
            return future

        async def hand_over() -> str | None:
            return await self.runner.submit(command)

        handed: Future[str | None] = asyncio.run_coroutine_threadsafe(hand_over(), self._runner_loop)
        return asyncio.wrap_future(handed)

    def stop(self) -> None:
        """Ask the runner to stop after the event in hand."""
        if self._runner_loop is not None and not self._runner_loop.is_closed():
            try:
                self._runner_loop.call_soon_threadsafe(self.runner.stop)
            except RuntimeError:
                pass
