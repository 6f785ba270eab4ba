"""Starting a real runner process on a demo world, and reading what it journals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

from cli_support import journal_events

from shipdeck.core.attach.protocol import socket_path
from shipdeck.core.config import load_config
from shipdeck.core.sandbox.demo import DemoWorld
from shipdeck.core.session import Options
from shipdeck.core.store import Store, store_for
from shipdeck.tui.runner_daemon import Started, spawn_runner


def world_store(world: DemoWorld) -> Store:
    return store_for(load_config(world.config), world.repo, "production")


def start_runner(world: DemoWorld, *, assume_yes: bool) -> Started:
    """A detached runner with the cockpit's policy (interactive, not --auto)."""
    options = Options(
        config_path=world.config, repo_path=world.repo, interactive=True, assume_yes=assume_yes, force=True, command_name="test"
    )
    started = spawn_runner(options, world_store(world).root)
    assert started.ok, started.message
    assert Path(started.socket) == socket_path(world_store(world).root)
    return started


def wait_for(world: DemoWorld, predicate: Callable[[dict], bool], timeout: float = 60) -> dict:
    """The first journaled event matching `predicate`, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for event in journal_events(world):
                if predicate(event):
                    return event
        except (AssertionError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"never journaled; the journal ends with {journal_events(world)[-3:]}")


def exited(pid: int, timeout: float = 30) -> bool:
    """Reap the runner (it is this test's child) and say whether it ended within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        time.sleep(0.05)
    return False


def kill_runner(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    exited(pid, 10)
