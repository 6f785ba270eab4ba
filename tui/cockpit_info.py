"""What the cockpit needs to know besides the release state, and the runner it talks to.

Built once from a Session by `run_cockpit`; tests build one by hand with a frozen clock.
Views read this and `link.state`; they only change anything through `link.submit`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

from shipdeck.core.commands import Authority, Command
from shipdeck.core.events import Event
from shipdeck.core.model import Release


class ReleaseLink(Protocol):
    """What the cockpit talks to: the Runner itself (in-process: demo, tests, snapshots) or a
    `shipdeck.core.attach.client.SocketLink` to a runner process (`stop` then only detaches)."""

    state: Release

    def subscribe(self, subscriber: Callable[[Event, Release], None]) -> None: ...

    def submit(self, command: Command) -> Awaitable[str | None]: ...

    async def run(self) -> Any: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class CockpitInfo:
    """Facts about this run of the cockpit: who is at the keyboard and where things live."""

    identity: str
    authority: Authority
    window_status: Callable[[float], tuple[bool, str]] = lambda now: (True, "any time")
    lock_holder: str = ""
    notes_path: Path | None = None
    journal_path: Path | None = None
    journals: Callable[[], list[Path]] = lambda: []
    now: Callable[[], float] = time.time
    notes: tuple[str, ...] = field(default_factory=tuple)  # told to the captain on start
    resumed: bool = False
    resume_command: str = "shipdeck resume"  # with --config/--repo when they are not the defaults
    runner_process: bool = False  # the runner is a process of its own: quitting detaches, it goes on

    @property
    def may_roll_back(self) -> bool:
        return self.authority.may(self.identity, self.authority.rollback_roles)

    @property
    def roles(self) -> tuple[str, ...]:
        return self.authority.roles_of(self.identity)
