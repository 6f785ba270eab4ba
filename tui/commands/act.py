"""`approve` and `rollback` from any terminal.

When a runner process serves the release, the command goes over its socket. When no shipdeck
process holds the release (the headless run stopped to wait for a person), the command takes
the lock and journals the decision itself. When a process holds the lock but cannot be
reached (a headless run in the foreground), the command goes through the inbox. `rollback` when
no release is active rolls the live version back to the last healthy release before it, as a
journaled rollback of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from shipdeck.core.commands import Command
from shipdeck.core.config import load_config
from shipdeck.core.lock import LockHeld
from shipdeck.core.machine import current_step
from shipdeck.core.model import StepKind
from shipdeck.core.sanitize import plain
from shipdeck.core.session import NoActiveRelease, RollbackRefused, open_rollback_session, open_session, store_for
from shipdeck.core.store import Store, identity

from .run import options_from, run_headless

INBOX_WAIT_SECONDS = 15.0


def _active_state(args: argparse.Namespace):
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    active = store.active()
    if active is None:
        raise NoActiveRelease(f"no active release for {args.environment}; nothing to act on")
    return store, active[2]


def approve(args: argparse.Namespace) -> int:
    store, state = _active_state(args)
    step = state.step(args.step) if args.step else current_step(state)
    if step is None:
        print(f"shipdeck: no step {args.step!r} in {state.tag}" if args.step else "shipdeck: no step is waiting", file=sys.stderr)
        return 1
    if args.waive:
        verb = "waive"
    elif step.spec.kind is StepKind.APPROVAL:
        verb = "approve"
    else:
        verb = "confirm"
    return _deliver(args, store, Command(verb=verb, by=identity(), step=step.id, reason=args.reason))


def rollback(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    active = store.active()
    if active is None:
        return _roll_back_live_version(args)
    state = active[2]
    target = state.rollback.target if state.rollback else state.previous_tag
    if args.target and args.target not in (target, target.lstrip("v"), f"v{args.target}"):
        print(
            f"shipdeck: this release can roll back only to the previous release {target}; "
            f"to go further back, deploy that version as a hotfix",
            file=sys.stderr,
        )
        return 2
    command = Command(verb="rollback", by=identity(), reason=args.reason, typed_target=target)
    return _deliver(args, store, command, run_after=True)


def _roll_back_live_version(args: argparse.Namespace) -> int:
    """No release is active: roll the live version back as a journaled rollback of its own."""
    try:
        session = open_rollback_session(options_from(args, command="rollback"), args.reason, args.target)
    except RollbackRefused as refused:
        print(f"shipdeck: rollback refused: {plain(refused)}", file=sys.stderr)
        return 2 if refused.usage else 1
    rollback = session.runner.state.rollback
    assert rollback is not None
    print(f"shipdeck: rolling {rollback.from_version} back to {rollback.target} as {rollback.requested_by}", file=sys.stderr)
    return run_headless(session, getattr(args, "json", False))


def _deliver(args: argparse.Namespace, store: Store, command: Command, run_after: bool = False) -> int:
    over_socket = _through_socket(store, command)
    if over_socket is not None:
        return over_socket
    try:
        session = open_session(options_from(args, resume_only=True, command=command.verb) if not run_after else
                               _rollback_options(args))
    except LockHeld as held:
        return _through_inbox(store, command, held)
    refusal = asyncio.run(_execute(session, command))
    if refusal:
        session.close()
        print(f"shipdeck: refused: {plain(refusal)}", file=sys.stderr)
        return 1
    print(f"shipdeck: {command.verb} accepted for {session.runner.state.tag} as {command.by}", file=sys.stderr)
    if run_after:
        return run_headless(session, getattr(args, "json", False))
    session.close()
    return 0


def _rollback_options(args: argparse.Namespace):
    options = options_from(args, resume_only=True, command="rollback")
    from dataclasses import replace

    return replace(options, auto=True, interactive=False)


async def _execute(session, command: Command) -> str | None:
    return await session.runner.execute_command(command)


def _through_socket(store: Store, command: Command) -> int | None:
    """Hand the command to the runner process serving the release; None when none answers.

    The runner carries it out through the same path as the inbox's and the cockpit's
    commands (`Runner.execute_command`: authority checked, then journaled).
    """
    from shipdeck.core.attach.client import send_command
    from shipdeck.core.attach.protocol import AttachError, socket_path

    active = store.active()
    after = active[1][-1].seq if active and active[1] else 0
    try:
        refusal = asyncio.run(send_command(socket_path(store.root), command, after=after))
    except AttachError:
        return None  # no runner serves it: take the lock, or leave it in the inbox
    if refusal:
        print(f"shipdeck: refused: {plain(refusal)}", file=sys.stderr)
        return 1
    print(f"shipdeck: {command.verb} accepted by the release's runner as {command.by}", file=sys.stderr)
    return 0


def _through_inbox(store: Store, command: Command, held: LockHeld) -> int:
    request_id = store.post_command(command.to_dict())
    holder = held.holder.describe() if held.holder else "the running shipdeck"
    deadline = time.monotonic() + INBOX_WAIT_SECONDS
    while time.monotonic() < deadline:
        answer = store.command_answer(request_id)
        if answer is not None:
            if answer.get("ok"):
                print(f"shipdeck: {command.verb} accepted by {holder}", file=sys.stderr)
                return 0
            print(f"shipdeck: refused: {plain(answer.get('message', ''))}", file=sys.stderr)
            return 1
        if store.lease_holder() is None:
            break  # the captain's process ended; the request stays for the next run
        time.sleep(0.2)
    print(
        f"shipdeck: {command.verb} queued for {holder}, which has not answered yet; "
        f"it is applied when that process next reads its inbox ({store.inbox / request_id}.json)",
        file=sys.stderr,
    )
    return 4

