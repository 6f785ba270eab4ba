"""Time for the runner and the simulated world: real, or compressed for demos and benchmarks."""

from __future__ import annotations

import asyncio
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
