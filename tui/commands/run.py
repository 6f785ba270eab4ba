"""`shipdeck`, `release`, `resume`, `watch`: run the release headless or in the cockpit."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from shipdeck.core.events import EventKind
from shipdeck.core.exit_codes import ExitCode, exit_code_for
from shipdeck.core.machine import current_step, is_terminal, phase_of
from shipdeck.core.model import Phase, Release
from shipdeck.core.options import Options
from shipdeck.core.sanitize import plain

if TYPE_CHECKING:  # the session opens the providers: only a headless run in this process needs it
    from shipdeck.core.runner import Runner
    from shipdeck.core.session import Session

from ..headless import HeadlessPrinter
from ..resume import resume_command


def options_from(args: argparse.Namespace, *, resume_only: bool = False, command: str = "release") -> Options:
    return Options(
        config_path=args.config,
        repo_path=args.repo,
        environment=getattr(args, "environment", "production"),
        release_type=getattr(args, "release_type", "regular"),
        version=getattr(args, "release_version", None),
        auto=bool(getattr(args, "auto", False)),
        assume_yes=bool(getattr(args, "yes", False)),
        force=bool(getattr(args, "force", False)),
        interactive=not getattr(args, "auto", False),
        resume_only=resume_only,
        command_name=command,
    )


def run_headless(session: Session, json_lines: bool) -> int:
    """Run the release without a screen; print events; return the contract's exit code."""
    for note in session.notes:
        print(f"shipdeck: {note}", file=sys.stderr)
    runner = session.runner
    if session.resumed:
        print(f"shipdeck: resuming {runner.state.tag} at {phase_of(runner.state).value} from {runner.journal.path}", file=sys.stderr)
    runner.subscribe(HeadlessPrinter(json_lines))
    if not session.resumed:
        # The start event was journaled before the runner existed; show it like any other.
        for event in session.store.read_after(runner.state.id):
            HeadlessPrinter(json_lines)(event, runner.state)
    stop = SignalStop(runner)
    try:
        state = asyncio.run(stop.run())
    finally:
        session.close()
    if stop.signal_name and not is_terminal(state):
        print(f"shipdeck: stopped by {stop.signal_name} at {phase_of(state).value}; the journal keeps the release: "
              f"`{resume_command(session.options, auto=True)}` continues it", file=sys.stderr)
        return int(ExitCode.WAITING)
    code = exit_code_for(state)
    print(f"shipdeck: {summary(state, code)}", file=sys.stderr)
    return int(code)


class SignalStop:
    """Runs the runner so that SIGTERM or SIGHUP stops it at a safe point, journaled.

    The first signal asks the runner to stop after the event in hand (its side effects are
    journaled intent → outcome, so `resume` reconciles whatever was under way) and notes the
    signal in the journal. A second signal exits at once: every event is already on disk.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self, runner: Runner, signals: tuple[signal.Signals, ...] = SIGNALS) -> None:
        self.runner = runner
        self.signals = signals
        self.signal_name = ""

    async def run(self) -> Release:
        loop = asyncio.get_running_loop()
        for signum in self.signals:
            loop.add_signal_handler(signum, self._received, signum)
        try:
            state = await self.runner.run()
            if self.signal_name and not is_terminal(state):
                await self.runner.emit(EventKind.NOTE, {"message": f"stopped by {self.signal_name}; `shipdeck resume` continues from here"})
            return self.runner.state
        finally:
            for signum in self.signals:
                loop.remove_signal_handler(signum)

    def _received(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signal_name:
            print(f"shipdeck: {name} again: exiting now; the journal is on disk and `shipdeck resume` reconciles it", file=sys.stderr)
            os._exit(int(ExitCode.WAITING))
        self.signal_name = name
        self.runner.stop()
        print(f"shipdeck: {name}: stopping at the next safe point (send it again to exit at once)", file=sys.stderr)


def summary(state: Release, code: ExitCode) -> str:
    """One sentence for the end of a headless run: where the release stands, what to do."""
    phase = phase_of(state)
    if code is ExitCode.RELEASED:
        return f"{state.tag} released to {state.environment}"
    if code is ExitCode.ROLLED_BACK and state.rollback:
        return f"rolled back to {state.rollback.target}: {plain(state.rollback.reason)}"
    if phase is Phase.FAILED:
        return f"{state.tag} failed before production changed: {plain(state.failure)}"
    step = current_step(state)
    waiting = f"{step.spec.title}: {plain(step.summary)}" if step else phase.value
    if code is ExitCode.PAGE:
        return f"PAGE A HUMAN — production runs {state.production_version or 'an unknown version'}; {waiting}"
    return f"waiting for a person — {waiting}. `shipdeck approve` or `shipdeck resume` continues"


def release(args: argparse.Namespace) -> int:
    if getattr(args, "rehearse", False):
        _rehearse(args)
    return _run(args, options_from(args))


def _rehearse(args: argparse.Namespace) -> None:
    """Point this run at a rehearsal copy of the repository with simulated production."""
    from shipdeck.core.config import load_config
    from shipdeck.core.sandbox.rehearsal import build_rehearsal

    world = build_rehearsal(load_config(args.config), args.repo, scenario=args.scenario)
    print(f"shipdeck: REHEARSAL in {world.root}: simulated production, pushes only to {world.origin}", file=sys.stderr)
    print(f"  shipdeck --config {world.config} --repo {world.repo} status", file=sys.stderr)
    args.config, args.repo = world.config, world.repo


def resume(args: argparse.Namespace) -> int:
    return _run(args, options_from(args, resume_only=True, command="resume"))


def _run(args: argparse.Namespace, options: Options) -> int:
    """Headless runs the runner here (CI leaves no daemon behind) unless --detach; the cockpit
    always attaches to a runner process of its own, which outlives the terminal."""
    if args.auto and not getattr(args, "detach", False):
        from shipdeck.core.session import open_session

        return run_headless(open_session(options), args.json)
    from .attached import through_runner

    return through_runner(options, json_lines=bool(getattr(args, "json", False)))


def cockpit(args: argparse.Namespace) -> int:
    """Bare `shipdeck`: open the active release where it stands; never start one unasked."""
    from shipdeck.core.config import load_config
    from shipdeck.core.store import store_for

    config = load_config(args.config)
    if store_for(config, args.repo, "production").active() is None:
        print(
            "shipdeck: no active release for production. Start one with\n"
            "  shipdeck release                 (regular: minor bump, cut from develop)\n"
            "  shipdeck release --type hotfix   (patch bump, cut from main)\n"
            "  shipdeck demo                    (the whole flow on a generated repository)",
            file=sys.stderr,
        )
        return 0
    args.auto = False
    args.environment = "production"
    return resume(args)


def watch(args: argparse.Namespace) -> int:
    """Read-only: follow the active release through its runner's socket, or its journal."""
    from shipdeck.core.config import load_config
    from shipdeck.core.machine import apply, is_terminal
    from shipdeck.core.store import store_for

    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    active = store.active()
    if active is None:
        print(f"shipdeck: no active release for {args.environment}", file=sys.stderr)
        return 1
    from .attached import watch_attached

    lines = bool(args.json or getattr(args, "follow", False) or not sys.stdout.isatty())
    attached = watch_attached(store, options_from(args, command="watch"), lines=lines, json_lines=args.json)
    if attached is not None:
        return attached
    # No runner process serves it (a headless run in the foreground): follow the journal.
    release_id = active[2].id
    printer = HeadlessPrinter(args.json)
    state = Release()
    seen = 0
    while True:
        for event in store.read_after(release_id, seen):
            state = apply(state, event)
            printer(event, state)
            seen = event.seq
        if is_terminal(state):
            return int(exit_code_for(state))
        time.sleep(0.5)
