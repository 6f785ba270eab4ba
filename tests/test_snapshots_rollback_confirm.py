"""Looks of the rollback confirmation, raised by itself on a sustained breach (frozen data)."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, frozen_app, utc, watching  # noqa: F401 - utc is an autouse fixture
from textual.widgets import Input


async def _settle(pilot) -> None:
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would make the picture flicker between runs
    await pilot.pause()


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_rollback_confirmation_raised_by_breach(snap_compare, size, theme):
    assert snap_compare(frozen_app(watching(breach=True), theme=theme), terminal_size=SIZES[size], run_before=_settle)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_rollback_confirmation_wrong_version_refused(snap_compare, size, theme):
    async def type_wrong(pilot) -> None:
        await _settle(pilot)
        await pilot.press("v", "1", ".", "4", ".", "0", "enter")
        await pilot.pause()

    assert snap_compare(frozen_app(watching(breach=True), theme=theme), terminal_size=SIZES[size], run_before=type_wrong)


def test_rollback_confirmation_high_contrast(snap_compare):
    assert snap_compare(frozen_app(watching(breach=True), theme="high-contrast"), terminal_size=SIZES["80x24"], run_before=_settle)
