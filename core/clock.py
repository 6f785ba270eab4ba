"""Time for the runner and the simulated world: real, or compressed for demos and benchmarks."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Runs `speed` times faster than the wall clock, from the moment it is made.

    Used to replay a four-hour watch in minutes: durations in config stay realistic while
    the sleeps between polls shrink.
    """

    def __init__(self, speed: float, start: float | None = None) -> None:
        self.speed = speed
        self._wall_start = time.time()
        self._start = self._wall_start if start is None else start

    def now(self) -> float:
        return self._start + (time.time() - self._wall_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class VirtualClock:
    """Time that passes only when someone sleeps: a 30-minute watch takes milliseconds.

    For tests that drive the real runner through many releases. Concurrent sleepers wake in
    order of their wake times (a min-heap): a sleeper returns only once no other sleeper is
    due before it, and time then jumps to its wake time. `advance` is time passing outside
    shipdeck (a process that was dead, a night between two releases).
    """

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass with nobody watching."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        entry = (self._now + max(0.0, seconds), next(self._order))
        heapq.heappush(self._sleepers, entry)
        try:
            while True:
                # Yield so other tasks run (and journal) before time moves on.
                await asyncio.sleep(0)
                if self._sleepers[0] == entry:
                    break
        finally:
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)
        self._now = max(self._now, entry[0])
