"""Looks of a release mid-ramp: the flags panel in the cockpit, and the guarded "flag off" dialog."""

from __future__ import annotations

import pytest
from flags_fixtures import mid_ramp
from test_snapshots_rollback_confirm import _settle  # cursors frozen, the same picture every run
from tui_fixtures import SIZES, THEMES, frozen_app, utc  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_cockpit_mid_ramp(snap_compare, size, theme):
    assert snap_compare(frozen_app(mid_ramp(), theme=theme), terminal_size=SIZES[size], run_before=_settle)


@pytest.mark.parametrize("theme", THEMES)
def test_flag_off_wrong_name_refused(snap_compare, theme):
    async def type_wrong(pilot) -> None:
        await pilot.pause()
        await pilot.press("f")
        await _settle(pilot)
        await pilot.press(*"ai-copilo", "enter")
        await pilot.pause()

    assert snap_compare(frozen_app(mid_ramp(), theme=theme), terminal_size=SIZES["80x24"], run_before=type_wrong)


def test_cockpit_mid_ramp_high_contrast(snap_compare):
    assert snap_compare(frozen_app(mid_ramp(), theme="high-contrast"), terminal_size=SIZES["80x24"], run_before=_settle)
