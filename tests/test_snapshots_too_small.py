"""Looks of the too-small-terminal message (below 80×24 the cockpit says what it needs)."""

from __future__ import annotations

import pytest
from tui_fixtures import THEMES, frozen_app, utc, waiting_for_approval  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", [(60, 20), (79, 30)], ids=["60x20", "79x30"])
def test_too_small(snap_compare, size, theme):
    assert snap_compare(frozen_app(waiting_for_approval(), theme=theme), terminal_size=size)
