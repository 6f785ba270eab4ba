"""The runner: executes what the reducer asks for, journals every outcome, publishes events.

One asyncio loop drives one release. Steps run as tasks; commands from people arrive on a
queue (the cockpit) or through the inbox folder (another terminal). Every event is
journaled and fsynced before the state changes and before any view hears of it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from ..clock import Clock
from ..commands import Authority, Command, check
from ..config import Config
from ..decisions import (
    Approve,
    ConfirmManual,
    FailRelease,
    Policy,
    RequestRollback,
    RunStep,
    SkipStep,
    migration_verdict,
    next_actions,
)
from ..events import Event, EventKind
from ..journal import Journal
from ..machine import apply, current_step, fold, is_terminal
from ..model import Group, Release, ReleaseType, StepKind, StepStatus
from ..providers.base import ProviderError
from ..watching import breached_series, describe_breach
from . import steps
from .context import Services, StepContext
from .announcing import post_once
from .effects import Unresolved

Subscriber = Callable[[Event, Release], None]

INBOX_POLL_SECONDS = 0.5


class Runner:
    """Drives one release from its journal.

    Args:
        journal: the release journal (already loaded; `events` are its contents).
        interactive: True under the cockpit: when nothing can proceed, wait for a person
            instead of returning.
    """

    def __init__(
        self,
        *,
        journal: Journal,
        events: list[Event],
        config: Config,
        services: Services,
        policy: Policy,
        authority: Authority,
        clock: Clock,
        interactive: bool = False,
        force: bool = False,
        inbox: Path | None = None,
        notes_path: Path | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.services = services
        self.policy = policy
        self.authority = authority
        self.clock = clock
        self.interactive = interactive
        self.force = force
        self.inbox = inbox
        self.notes_path = notes_path
        self.state: Release = fold(events)
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._commands: asyncio.Queue[tuple[Command, asyncio.Future[str | None]]] | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = False

    # -- publishing --------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def emit(self, kind: EventKind, data: Mapping[str, Any]) -> Event:
        """Journal an event (durably), fold it into the state, then tell the views."""
        event = self.journal.append(kind, dict(data), self.clock.now())
        self.state = apply(self.state, event)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event, self.state)
            except Exception:  # a broken view must never stop a release
                traceback.print_exc(file=sys.stderr)
        if self._wake is not None:
            self._wake.set()
        return event

    # -- commands ----------------------------------------------------------------------

    def submit(self, command: Command) -> asyncio.Future[str | None]:
        """Queue a command; the future resolves to None when carried out, else the refusal."""
        assert self._commands is not None, "submit() before run()"
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._commands.put_nowait((command, future))
        if self._wake is not None:
            self._wake.set()
        return future

    async def execute_command(self, command: Command) -> str | None:
        """Check and journal one command. Returns the refusal, or None."""
        refusal = check(self.state, command, self.authority)
        if refusal:
            return refusal
        step = self.state.step(command.step) if command.step else current_step(self.state)
        verb = command.verb
        if verb == "approve" and step is not None:
            held = [r for r in self.authority.roles_of(command.by) if r in step.spec.roles]
            granted = {a.role for a in step.approvals}
            role = next((r for r in held if r not in granted), held[0] if held else "")
            await self.emit(EventKind.APPROVAL_GRANTED, {"step": step.id, "by": command.by, "role": role, "reason": command.reason})
        elif verb == "confirm" and step is not None:
            await self._close_confirmed_intents(step.id, command.by)
            await self.emit(
                EventKind.STEP_PASSED,
                {"step": step.id, "summary": f"confirmed by {command.by}" + (f": {command.reason}" if command.reason else "")},
            )
        elif verb == "waive" and step is not None:
            await self.emit(EventKind.STEP_WAIVED, {"step": step.id, "by": command.by, "reason": command.reason})
        elif verb == "retry" and step is not None:
            await self.emit(EventKind.STEP_RETRIED, {"step": step.id, "by": command.by})
        elif verb == "rollback":
            await self._request_rollback(command.by, command.reason, automatic=False)
        elif verb == "flag_off":
            from .ramp_step import flag_off

            return await flag_off(self, command.typed_target.strip(), command.by, command.reason)
        elif verb == "abort":
            await self._announce_end(f"{self.state.tag} to {self._env_word()} aborted by {command.by}: {command.reason}")
            await self.emit(EventKind.RELEASE_ABORTED, {"by": command.by, "reason": command.reason})
        return None

    async def _close_confirmed_intents(self, step_id: str, by: str) -> None:
        """A person confirms that an unresolved side effect happened: its intent closes as done."""
        step = self.state.step(step_id)
        for intent in [i for i in self.state.intents if i.step == step_id]:
            await self.emit(EventKind.OUTCOME, {"key": intent.key, "status": "done", "result": {"ok": True, "summary": f"confirmed by {by}", "confirmed_by": by}})
            if step is not None and step.spec.changes_production:
                version = self.state.rollback.target if step.spec.group is Group.ROLLBACK and self.state.rollback else self.state.tag
                if self.state.production_version != version:
                    await self.emit(EventKind.PRODUCTION_CHANGED, {"version": version, "step": step_id, "confirmed_by": by})

    def _env_word(self) -> str:
        return "prod" if self.state.environment == "production" else self.state.environment

    async def _announce_end(self, text: str) -> None:
        """After "Deploying…" was announced, a release that ends without deploying says so too."""
        announced = self.state.step("announce.deploy")
        if announced is None or announced.status is not StepStatus.PASSED:
            return
        channel = str(self.state.settings.get("announce_channel", self.config.release.announce_channel))
        result = await post_once(self, step_id="release.end", key=f"{self.state.id}:release.end", channel=channel, text=text)
        if isinstance(result, Unresolved) or not result.ok:
            detail = result.detail if isinstance(result, Unresolved) else result.summary
            await self.emit(EventKind.NOTE, {"message": f"could not announce the end of the release in #{channel}: {detail}"})

    async def _request_rollback(self, by: str, reason: str, automatic: bool) -> None:
        state = self.state
        target = state.rollback.target if state.rollback else state.previous_tag
        schema_verdict, schema_note = migration_verdict(state)
        await self.emit(
            EventKind.ROLLBACK_REQUESTED,
            {
                "by": by,
                "reason": reason,
                "target": target,
                "automatic": automatic,
                "breaches": [h.spec.name for h in breached_series(state)],
                "evidence": {h.spec.name: describe_breach(h) for h in breached_series(state)},
                "schema_verdict": schema_verdict,
                "schema_note": schema_note,
            },
        )

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> Release:
        """Run until the release is over, or (headless) until it waits for a person."""
        self._commands = asyncio.Queue()
        self._wake = asyncio.Event()
        await self._recheck_blocked_steps()
        try:
            while not self._stopping:
                await self._drain_commands()
                self._cancel_superseded()
                if is_terminal(self.state):
                    break
                if await self._act():
                    continue
                if not self._tasks and not self.interactive:
                    break  # headless and nothing can proceed without a person
                await self._sleep_until_woken()
        finally:
            for task in self._tasks.values():
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            self._tasks.clear()
        return self.state

    def stop(self) -> None:
        """Stop after the current event; the journal lets `resume` carry on later."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def _act(self) -> bool:
        """Take the reducer's next actions. True when something was journaled."""
        journaled = False
        for action in next_actions(self.state, self.policy):
            if isinstance(action, RunStep):
                if action.step not in self._tasks:
                    self._tasks[action.step] = asyncio.create_task(self._run_step(action.step), name=action.step)
            elif isinstance(action, SkipStep):
                await self.emit(EventKind.STEP_SKIPPED, {"step": action.step, "reason": action.reason})
                journaled = True
            elif isinstance(action, Approve):
                await self.emit(
                    EventKind.APPROVAL_GRANTED,
                    {"step": action.step, "by": action.by, "role": action.role, "reason": action.reason},
                )
                journaled = True
            elif isinstance(action, ConfirmManual):
                await self.emit(EventKind.STEP_PASSED, {"step": action.step, "summary": f"confirmed by {action.by} (--yes)"})
                journaled = True
            elif isinstance(action, RequestRollback):
                await self._request_rollback("shipdeck (auto)", action.reason, automatic=True)
                journaled = True
            elif isinstance(action, FailRelease):
                previous = self.state.production_version or "the previous version"
                if self.state.release_type is ReleaseType.RAMP:
                    await self._announce_end(f"Flag ramp stopped: {action.reason}")
                else:
                    await self._announce_end(f"{self.state.tag} was not deployed: {action.reason}. Production still runs {previous}")
                await self.emit(EventKind.RELEASE_FAILED, {"reason": action.reason})
                journaled = True
        return journaled

    async def _recheck_blocked_steps(self) -> None:
        """On (re)start, a blocked automatic check (window, CI) and a side effect nobody could
        reconcile are asked again: a person may have fixed or checked it meanwhile."""
        step = current_step(self.state)
        if step is None or step.status is not StepStatus.WAITING or step.spec.kind is not StepKind.AUTOMATIC:
            return
        unresolved = any(i.step == step.id for i in self.state.intents)
        if step.spec.action in steps.RECHECKABLE or unresolved:
            await self.emit(EventKind.STEP_RETRIED, {"step": step.id, "by": "shipdeck (resume)"})

    def _cancel_superseded(self) -> None:
        """A step that is over, or that a rollback superseded, stops at once."""
        rolling_back = self.state.rollback is not None
        for step_id, task in list(self._tasks.items()):
            step = self.state.step(step_id)
            over = step is None or step.status.finished or step.status is StepStatus.FAILED
            superseded = step is not None and rolling_back and step.spec.group is not Group.ROLLBACK
            if (over or superseded) and not task.done():
                task.cancel()

    async def _drain_commands(self) -> None:
        assert self._commands is not None
        while not self._commands.empty():
            command, future = self._commands.get_nowait()
            try:
                result = await self.execute_command(command)
            except Exception as error:  # refuse, never crash the release
                result = f"internal error: {error}"
            if not future.done():
                future.set_result(result)
        await self._read_inbox()

    async def _read_inbox(self) -> None:
        if self.inbox is None or not self.inbox.exists():
            return
        for path in sorted(self.inbox.glob("*.json")):
            try:
                command = Command.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, AttributeError):
                # Senders write a temporary name and rename, so this is not a half-written
                # request but a malformed one: answer it rather than retrying forever.
                path.with_suffix(".result").write_text(json.dumps({"ok": False, "message": "malformed request"}), encoding="utf-8")
                path.unlink(missing_ok=True)
                continue
            result = await self.execute_command(command)
            answer = {"ok": result is None, "message": result or "accepted"}
            path.with_suffix(".result").write_text(json.dumps(answer), encoding="utf-8")
            path.unlink(missing_ok=True)

    async def _sleep_until_woken(self) -> None:
        assert self._wake is not None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that arrives
            # as the event is set, and a cancelled runner (the cockpit closing) would run on.
            async with asyncio.timeout(INBOX_POLL_SECONDS):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def _run_step(self, step_id: str) -> None:
        try:
            await steps.run_step(StepContext(self, step_id))
        except asyncio.CancelledError:
            raise
        except ProviderError as error:
            await self._fail(step_id, str(error))
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            await self._fail(step_id, f"internal error in {step_id}: {error.__class__.__name__}: {error}")
        finally:
            self._tasks.pop(step_id, None)
            if self._wake is not None:
                self._wake.set()

    async def _fail(self, step_id: str, summary: str) -> None:
        step = self.state.step(step_id)
        if step is not None and not step.status.finished:
            for intent in self.state.intents:
                if intent.step == step_id:
                    await self.emit(EventKind.OUTCOME, {"key": intent.key, "status": "failed", "result": {"error": summary}})
            await self.emit(EventKind.STEP_FAILED, {"step": step_id, "summary": summary})
