"""The in-process link runs the runner on a thread of its own: journal writes never run on the
view's loop, events reach the view's loop in order, commands cross back and are answered."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from cli_support import fast_world

from shipdeck.core.attach.in_process import ThreadedRunnerLink
from shipdeck.core.commands import Command
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Phase
from shipdeck.core.session import Options, open_session
from shipdeck.core.store import identity


def _session(world, **overrides):
    options = Options(config_path=world.config, repo_path=world.repo, force=True, command_name="test", **overrides)
    return open_session(options)


def test_the_journal_is_written_off_the_views_loop_and_events_arrive_on_it_in_order(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    session = _session(world, auto=True, assume_yes=True)
    writers: set[int] = set()
    seen: list[tuple[int, int]] = []
    # A runner subscriber is called right after journal.append+fsync, on the writing thread.
    session.runner.subscribe(lambda event, state: writers.add(threading.get_ident()))
    link = ThreadedRunnerLink(session.runner)
    link.subscribe(lambda event, state: seen.append((event.seq, threading.get_ident())))
    try:
        state = asyncio.run(link.run())
    finally:
        session.close()
    view = threading.get_ident()
    assert phase_of(state) is Phase.DONE
    assert writers and view not in writers
    assert {thread for _, thread in seen} == {view}
    seqs = [seq for seq, _ in seen]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) and len(seqs) > 20


def test_a_command_crosses_to_the_runners_thread_and_its_answer_comes_back(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    session = _session(world, interactive=True, assume_yes=False)
    link = ThreadedRunnerLink(session.runner)

    async def drive() -> tuple[str | None, str | None]:
        running = asyncio.create_task(link.run())
        while link.state.step("approval") is None or link.state.step("approval").status.value != "waiting":
            await asyncio.sleep(0.02)
        refused = await link.submit(Command(verb="waive", by=identity(), step="approval", reason="no"))
        accepted = await link.submit(Command(verb="approve", by=identity(), step="approval"))
        link.stop()
        await running
        return refused, accepted

    try:
        refused, accepted = asyncio.run(drive())
    finally:
        session.close()
    assert refused is not None and "cannot be waived" in refused
    assert accepted is None
    assert link.state.step("approval").approvals
