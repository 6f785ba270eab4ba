"""The cockpit App: runs the release's runner as a worker and shows it on the cockpit screen.

Data flows one way: the runner journals an event and calls our subscriber on this same
asyncio loop; the subscriber only posts a `ReleaseEventArrived` message, and the cockpit's
handlers update the widgets. Views send `Command`s back through `send_command`.
"""

from __future__ import annotations

import os
from typing import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen

from shipdeck.core.commands import Command
from shipdeck.core.events import Event
from shipdeck.core.model import Release
from shipdeck.themes import STYLESHEET, THEMES, theme_name

from .cockpit_info import CockpitInfo, ReleaseLink
from .messages import CommandAnswered, ReleaseEventArrived, RunnerFinished
from .resume import resume_command

MIN_WIDTH, MIN_HEIGHT = 80, 24


def no_color_requested() -> bool:
    """True when NO_COLOR is set, read as Textual reads it (present, whatever its value)."""
    return "NO_COLOR" in os.environ


class ShipdeckApp(App[int]):
    """Args:
    link: the runner (or a stand-in in tests).
    info: who is at the keyboard, where journals and notes live, the clock.
    history: events already journaled before the cockpit opened (replayed into the charts).
    start_runner: False in snapshot tests, which show a frozen state.
    """

    CSS_PATH = str(STYLESHEET)
    TITLE = "shipdeck"
    ENABLE_COMMAND_PALETTE = True
    # A large terminal gets more of everything (see themes/cockpit.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]
    BINDINGS = [Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        link: ReleaseLink,
        info: CockpitInfo,
        *,
        history: Iterable[Event] = (),
        start_runner: bool = True,
        theme: str | None = None,
        starting_what: str = "release",
    ) -> None:
        # Textual reads NO_COLOR here. On its own it only greys colours (its Monochrome filter
        # still writes 24-bit grey SGR codes); asking for native ANSI colour makes it pick its
        # NoColor filter instead, so every cell keeps the terminal's own colours. Status stays
        # readable through symbols and words, and `:nocolor` rules in cockpit.tcss.
        super().__init__(ansi_color=True if no_color_requested() else None)
        self.link = link
        self.info = info
        self._history = list(history)
        self._start_runner = start_runner
        self._theme_choice = theme_name(theme or os.environ.get("SHIPDECK_THEME"))
        self._starting_what = starting_what  # shown while a runner process starts
        self.runner_error = ""
        self.runner_code: int | None = None  # the runner's own exit code when it could not start

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self._theme_choice
        self.link.subscribe(self._runner_event)
        if self.link.state.started or getattr(self.link, "attach", None) is None or not self._start_runner:
            self._show_cockpit(self._history)
            if getattr(self.link, "attach", None) is not None and self._start_runner:
                self.notify("not attached yet: the release runner is starting. This is the journal on disk; "
                            "commands are refused until it answers", title="Starting the runner", markup=False, timeout=600)
        else:
            from .starting import StartingScreen

            self.push_screen(StartingScreen(self._starting_what))
        for note in self.info.notes:
            self.notify(note, markup=False, timeout=10)
        if self._start_runner:
            self.run_worker(self._run_release(), exclusive=True, group="runner", exit_on_error=False)
        self.check_size()

    # -- the runner ----------------------------------------------------------------------

    def _show_cockpit(self, history: list[Event]) -> None:
        from shipdeck.screens.cockpit import CockpitScreen

        self.cockpit = CockpitScreen(self.info, self.link.state, history)
        self.push_screen(self.cockpit)

    def _runner_event(self, event: Event, state: Release) -> None:
        # Called by the runner on this loop right after journaling; keep it to one post.
        self.cockpit.post_message(ReleaseEventArrived(event, state))

    async def _attach(self) -> bool:
        """Wait for a runner that is starting (see LaunchingLink); False when it did not start."""
        from .launching import RunnerDidNotStart
        from .starting import StartingScreen

        try:
            history = await self.link.attach()  # type: ignore[attr-defined]
        except RunnerDidNotStart as failure:
            self.runner_error, self.runner_code = str(failure), failure.started.code
            if isinstance(self.screen_stack[-1], StartingScreen) or not hasattr(self, "cockpit"):
                for screen in self.screen_stack:
                    if isinstance(screen, StartingScreen):
                        screen.failed(self.runner_error)
            else:
                self.clear_notifications()
                self.notify(self.runner_error, title="The runner did not start", severity="error", markup=False, timeout=600)
            return False
        self.clear_notifications()
        if not hasattr(self, "cockpit"):
            while not isinstance(self.screen, StartingScreen):
                self.pop_screen()  # a "too small" cover goes; check_size puts it back on the cockpit
            self.pop_screen()
            self._show_cockpit(history)
            self.check_size()
        started = getattr(self.link, "started", None)
        for note in getattr(started, "notes", ()):
            self.notify(note, markup=False, timeout=10)
        self.notify(f"attached to the release runner (pid {self.link.runner_pid}); closing this view never stops it",  # type: ignore[attr-defined]
                    markup=False, timeout=10)
        return True

    async def _run_release(self) -> None:
        error = ""
        try:
            if getattr(self.link, "attach", None) is not None and not await self._attach():
                return
            await self.link.run()
        except Exception as failure:  # noqa: BLE001 - shown to the captain, the journal keeps the rest
            error = f"{failure.__class__.__name__}: {failure}. The journal has every event so far; `shipdeck resume` continues."
        self.runner_error = error
        self.cockpit.post_message(RunnerFinished(self.link.state, error))

    def send_command(self, command: Command, reply_to: Message | None = None, target=None) -> None:
        """Queue `command` with the runner; the answer arrives as `CommandAnswered` on `target`."""
        receiver = target or self.cockpit

        async def wait_for_answer() -> None:
            try:
                refusal = await self.link.submit(command)
            except Exception as failure:  # noqa: BLE001 - a refusal the captain can read
                refusal = f"could not send {command.verb}: {failure}"
            receiver.post_message(CommandAnswered(command.verb, refusal))

        self.run_worker(wait_for_answer(), group="commands", exit_on_error=False)

    # -- quitting and size -----------------------------------------------------------------

    def action_request_quit(self) -> None:
        from shipdeck.core.machine import is_terminal
        from shipdeck.screens.quit_confirm import QuitConfirmScreen

        state = self.link.state
        if not state.started or is_terminal(state):
            self.quit_now()
            return
        if isinstance(self.screen, QuitConfirmScreen):
            return

        def answered(quit_: bool | None) -> None:
            if quit_:
                self.quit_now()

        self.push_screen(QuitConfirmScreen(state, self.info), answered)

    def quit_now(self) -> None:
        self.link.stop()
        self.exit(0)

    def on_resize(self, event: events.Resize) -> None:
        # Handled here rather than per screen so that a modal on top is covered too. This runs
        # before Textual's own handler stores the new size, hence the event's size.
        self.check_size(event.size)

    def check_size(self, size: Size | None = None) -> None:
        """Cover whatever is shown with a "too small" message below the minimum size, and back."""
        from shipdeck.screens.too_small import TooSmallScreen

        width, height = size or self.size
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        showing = isinstance(self.screen, TooSmallScreen)
        if too_small and not showing:
            self.push_screen(TooSmallScreen(MIN_WIDTH, MIN_HEIGHT, width, height))
        elif too_small and showing:
            self.screen.resized(width, height)  # type: ignore[attr-defined]
        elif not too_small and showing:
            self.pop_screen()

    # -- command palette ---------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        cockpit = getattr(self, "cockpit", None)
        if cockpit is None or screen is not cockpit:
            return
        for binding in cockpit.BINDINGS:
            action = binding.action  # type: ignore[union-attr]
            yield SystemCommand(
                f"{binding.description}",  # type: ignore[union-attr]
                f"key: {binding.key}",  # type: ignore[union-attr]
                lambda action=action: self.cockpit.run_action(action),
            )


def cockpit_info_for(session) -> CockpitInfo:
    """Everything the cockpit needs from a Session, read once."""
    runner = session.runner
    return _cockpit_info(
        session.config, session.store, session.options, runner.state, runner.authority, runner.clock.now,
        notes=tuple(session.notes), resumed=session.resumed,
    )


def _cockpit_info(config, store, options, state: Release, authority, now, *, notes: tuple[str, ...], resumed: bool) -> CockpitInfo:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from shipdeck.core.lock import current_holder
    from shipdeck.core.store import identity
    from shipdeck.core.window import window_status

    window = config.release.window

    def status_at(at: float) -> tuple[bool, str]:
        if window.always:
            return True, "any time"
        return window_status(window, datetime.fromtimestamp(at, ZoneInfo(window.timezone)))

    holder = current_holder(store.lock_path)
    return CockpitInfo(
        identity=identity(),
        authority=authority,
        window_status=status_at,
        lock_holder=holder.describe() if holder else "",
        notes_path=store.notes_path(state.id),
        journal_path=store.journal_path(state.id),
        journals=store.journals,
        now=now,
        notes=notes,
        resumed=resumed,
        resume_command=resume_command(options),
    )


def run_attached_cockpit(config, store, options, history: list[Event], notes: list[str], *, role: str = "captain", launch=None) -> int:
    """The cockpit attached to the release's runner process; quitting detaches, the runner goes on.

    `role="viewer"` is `shipdeck watch`: the same screen, and the runner refuses its commands.
    Returns the headless exit code of where the release stands when the captain leaves.
    `launch`: a runner process just started (`launch_runner`); the first frame does not wait
    for it (`LaunchingLink`). Nothing here imports core.session or the providers.
    """
    import dataclasses
    import sys
    import time

    from shipdeck.core.attach.client import SocketLink
    from shipdeck.core.attach.protocol import socket_path
    from shipdeck.core.commands import Authority
    from shipdeck.core.exit_codes import ExitCode, exit_code_for
    from shipdeck.core.store import identity

    link: ReleaseLink
    if launch is not None:
        from .launching import LaunchingLink

        link = LaunchingLink(launch, store, role=role, by=identity(), history=history)
    else:
        link = SocketLink(socket_path(store.root), role=role, by=identity(), history=history)
    state = link.state
    release_type = state.release_type.value if state.started else options.release_type
    rule = config.approval_rule(release_type)  # as core.session.authority_for, without importing the session
    authority = Authority(roles=config.roles, approving_roles=rule.roles, rollback_roles=config.release.rollback_roles)
    info = _cockpit_info(config, store, options, state, authority, time.time, notes=tuple(notes), resumed=len(history) > 1)
    what = f"{options.command_name} {release_type} → {options.environment}"
    app = ShipdeckApp(link, dataclasses.replace(info, runner_process=True), history=history, starting_what=what)
    app.run()
    state = link.state
    if app.runner_code is not None:
        print(app.runner_error, file=sys.stderr)
        return app.runner_code
    if launch is not None and not getattr(link, "attached", True):
        print(f"shipdeck: detached before the runner answered; it goes on starting (pid {launch.process.pid}). "
              f"`{info.resume_command.replace(' resume', '')}` re-attaches; its log is {launch.log}", file=sys.stderr)
        return int(ExitCode.WAITING)
    if app.runner_error:
        print(f"shipdeck: {app.runner_error}", file=sys.stderr)
    elif not phase_of_terminal(state):
        print(
            f"shipdeck: detached; {state.tag} goes on in its runner process (pid {link.runner_pid}). "
            f"`{info.resume_command.replace(' resume', '')}` re-attaches, `shipdeck watch` follows it read-only",
            file=sys.stderr,
        )
    return int(exit_code_for(state))


def run_cockpit(session) -> int:
    """Run the cockpit on `session` until the captain quits; returns the headless exit code."""
    from shipdeck.core.exit_codes import exit_code_for

    try:
        info = cockpit_info_for(session)
        history = session.store.read_after(session.runner.state.id)
        notes = list(info.notes)
        if session.resumed:
            from shipdeck.core.machine import phase_of

            state = session.runner.state
            notes.append(f"resumed {state.tag} at {phase_of(state).value} from {session.runner.journal.path}")
        from dataclasses import replace

        from shipdeck.core.attach.in_process import ThreadedRunnerLink

        # The runner on a thread of its own: its fsyncs never stall the cockpit's loop.
        app = ShipdeckApp(ThreadedRunnerLink(session.runner), replace(info, notes=tuple(notes)), history=history)
        app.run()
        state = session.runner.state
        if not phase_of_terminal(state):
            import sys

            print(f"shipdeck: {state.tag} is still in progress; `{info.resume_command}` continues it", file=sys.stderr)
        return int(exit_code_for(state))
    finally:
        session.close()


def phase_of_terminal(state) -> bool:
    from shipdeck.core.machine import is_terminal

    return is_terminal(state)
