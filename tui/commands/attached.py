"""Running a release through its runner process: start it (or find it), then attach.

`shipdeck`, `shipdeck release`, `resume` and `release --auto --detach` come here; a runner
already serving the release is attached to, so a second terminal (another SSH session) sees
the same release from its journal and follows it live.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from shipdeck.core.attach.client import SocketLink
from shipdeck.core.attach.protocol import CAPTAIN, VIEWER, AttachError, socket_path
from shipdeck.core.config import load_config, resolve_environment
from shipdeck.core.events import Event
from shipdeck.core.exit_codes import exit_code_for
from shipdeck.core.machine import is_terminal, phase_of
from shipdeck.core.model import Release
from shipdeck.core.store import Store, identity, store_for

from ..headless import HeadlessPrinter
from ..runner_daemon import Launch, launch_runner, runner_serving, spawn_runner

if TYPE_CHECKING:  # core.session builds providers: the cockpit's process never needs it
    from shipdeck.core.options import Options


def through_runner(options: Options, *, json_lines: bool = False) -> int:
    """Start or find the release's runner process, then attach: cockpit, or lines with --auto."""
    # Provider tables unchecked: the runner process loads the config in full and reports any
    # error in it through the launch, and the cockpit's first frame does not wait for that.
    config = load_config(options.config_path, providers=False)
    resolve_environment(config, options.environment)
    store = store_for(config, options.repo_path, options.environment)
    notes: list[str] = []
    launch: Launch | None = None
    if runner_serving(store.root):
        serving = store.active()
        if serving is not None:
            from shipdeck.core.session import refuse_a_different_release

            refuse_a_different_release(options, serving[2])  # `release --type hotfix` must not attach to a regular
        notes.append(f"attached to the runner already carrying the release ({socket_path(store.root)})")
    elif not options.auto:
        # The cockpit's first frame does not wait for the runner to open its session: the app
        # shows the journal on disk (or that the runner is starting) and attaches in a worker.
        launch = launch_runner(options, store.root)
    else:
        started = spawn_runner(options, store.root)
        if not started.ok:
            print(started.message, file=sys.stderr)
            return started.code
        notes += list(started.notes)
        notes.append(f"the release runs in its own process (pid {started.pid}); closing this view never stops it")
    active = store.active()
    if launch is not None:
        from ..app import run_attached_cockpit

        return run_attached_cockpit(config, store, options, active[1] if active else [], notes, launch=launch)
    if active is None:
        # The runner finished (or stopped) before we could read its journal.
        print("shipdeck: the runner ended before this view attached; `shipdeck status` shows where the release stands", file=sys.stderr)
        return 1
    history = active[1]
    if options.auto:
        for note in notes:
            print(f"shipdeck: {note}", file=sys.stderr)
        return follow(store, history, role=CAPTAIN, json_lines=json_lines)
    from ..app import run_attached_cockpit

    return run_attached_cockpit(config, store, options, history, notes)


def follow(store: Store, history: list[Event], *, role: str, json_lines: bool) -> int:
    """Print the release's events as lines (the journal so far, then live) until it ends or we detach."""
    printer = HeadlessPrinter(json_lines)
    link = SocketLink(socket_path(store.root), role=role, by=identity(), history=history)
    replayed = Release()
    from shipdeck.core.machine import apply

    for event in history:
        replayed = apply(replayed, event)
        printer(event, replayed)
    link.subscribe(printer)
    try:
        state = asyncio.run(link.run())
    except AttachError as error:
        print(f"shipdeck: {error}", file=sys.stderr)
        return 5 if link.state.production_runs_new_version else 4
    code = exit_code_for(state)
    if is_terminal(state):
        from .run import summary

        print(f"shipdeck: {summary(state, code)}", file=sys.stderr)
    else:
        print(f"shipdeck: {state.tag} waits at {phase_of(state).value}; its runner keeps it (pid {link.runner_pid})", file=sys.stderr)
    return int(code)


def watch_attached(store: Store, options: Options, *, lines: bool, json_lines: bool) -> int | None:
    """`shipdeck watch` through the runner's socket, read-only: the cockpit, or event lines.

    None when no runner process serves the release.
    """
    if not runner_serving(store.root):
        return None
    active = store.active()
    if active is None:
        return None
    if lines:
        return follow(store, active[1], role=VIEWER, json_lines=json_lines)
    from ..app import run_attached_cockpit

    config = load_config(options.config_path)
    note = "read-only: this view follows the release and cannot act (`shipdeck` acts as captain)"
    return run_attached_cockpit(config, store, options, active[1], [note], role=VIEWER)
