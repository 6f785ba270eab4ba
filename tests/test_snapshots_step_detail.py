"""Looks of a step's detail: the notes step, whose summary carries the injection corpus."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, frozen_app, utc, waiting_for_approval  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_step_detail(snap_compare, size, theme):
    # From the waiting approval, two up is "Release notes drafted"; Enter opens its detail.
    assert snap_compare(frozen_app(waiting_for_approval(), theme=theme), terminal_size=SIZES[size], press=["up", "up", "enter"])
