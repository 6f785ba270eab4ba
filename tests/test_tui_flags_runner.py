"""The cockpit's "flag off" end to end: keys → the real runner → LaunchDarkly over loopback HTTP → the panel.

The ramp runs first on a real journal (no metrics: the team stage waits for a person); then the
cockpit opens on a real Runner resuming that journal, the captain presses f and types the flag's
name, and the flag is off at the flag system, journaled, and shown off in the panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from ramp_support import FLAG, FastClock, ramp_config, ramp_plan, run_ramp, start
from tui_fixtures import utc  # noqa: F401 - utc is an autouse fixture

from fakes.launchdarkly_fake import FakeLaunchDarkly
from shipdeck.core.decisions import Policy
from shipdeck.core.events import EventKind
from shipdeck.core.journal import Journal
from shipdeck.core.providers.console import ConsoleNotifier
from shipdeck.core.providers.launchdarkly import LaunchDarklyFlags
from shipdeck.core.runner import Runner, Services
from shipdeck.core.secrets import Secret
from shipdeck.core.session import authority_for
from shipdeck.screens.flag_off_confirm import FlagOffConfirmScreen
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.cockpit_info import CockpitInfo
from shipdeck.tui.widgets.flags_panel import FlagsPanel

pytestmark = pytest.mark.anyio  # async tests run on asyncio through anyio's pytest plugin
TOKEN = "api-cockpit-flag-off"


@pytest.fixture
def fake() -> Iterator[FakeLaunchDarkly]:
    with FakeLaunchDarkly(TOKEN) as server:
        server.add_flag(FLAG)
        yield server


def _backend(fake: FakeLaunchDarkly) -> LaunchDarklyFlags:
    return LaunchDarklyFlags(url=fake.url, token=Secret("LD_API_TOKEN", TOKEN), project="default", environment="production")


@pytest.fixture
def ramped(tmp_path: Path, fake: FakeLaunchDarkly) -> tuple[Path, Any]:
    """A ramp journal whose team stage waits for a person (it has no metrics to watch)."""
    config = ramp_config(tmp_path, {"provider": "launchdarkly", "url": fake.url})
    path = tmp_path / "ramp.jsonl"
    state, _ = run_ramp(path, config, lambda: _backend(fake), first_events=lambda journal: start(journal, config, ramp_plan(config)))
    assert state.flags[FLAG]["stage"] == "team" and fake.environment(FLAG)["on"] is True
    return path, config


async def test_flag_off_from_the_cockpit_turns_the_flag_off_at_the_flag_system(ramped: tuple[Path, Any], fake: FakeLaunchDarkly) -> None:
    path, config = ramped
    changes_before = len(fake.changes)

    journal = Journal(path)
    events = journal.load()
    backend = _backend(fake)
    clock = FastClock()
    authority = authority_for(config, "ramp")
    runner = Runner(
        journal=journal, events=events, config=config, services=Services(deployer=None, notifier=ConsoleNotifier(), flags=backend),
        policy=Policy(identity="captain"), authority=authority, clock=clock, interactive=True,  # as under the cockpit
    )
    info = CockpitInfo(identity="captain", authority=authority, now=clock.now, journal_path=path)
    app = ShipdeckApp(runner, info, history=events, theme="dark")
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            panel = app.cockpit.query_one(FlagsPanel)
            assert [(row.flag, row.stage) for row in panel.rows] == [(FLAG, "team")]
            await pilot.press("f")
            await pilot.pause()
            assert isinstance(app.screen, FlagOffConfirmScreen)
            await pilot.press(*FLAG, "enter")
            for _ in range(40):  # the runner answers over real HTTP
                await pilot.pause(0.05)
                if not isinstance(app.screen, FlagOffConfirmScreen):
                    break
            assert not isinstance(app.screen, FlagOffConfirmScreen), app.screen.query_one("#flag-off-answer").render()
            await pilot.pause(0.5)  # the cockpit's coalesced view update
            ((flag, stage, health),) = [(row.flag, row.stage, row.health[0]) for row in panel.rows]
            assert (flag, stage, health) == (FLAG, "off", "off")
    finally:
        await backend.aclose()
        journal.close()
    assert fake.environment(FLAG)["on"] is False
    assert len(fake.changes) == changes_before + 1  # one change: turned off, nothing repeated
    written = Journal(path).load()
    off = [e for e in written if e.kind is EventKind.FLAG_CHANGED and e.data.get("stage") == "off"]
    assert len(off) == 1 and off[0].data["by"] == "captain"
