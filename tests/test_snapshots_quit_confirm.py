"""Looks of the quit confirmation mid-release (what happens to the release is spelled out)."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, deploying, frozen_app, utc  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_quit_confirmation(snap_compare, size, theme):
    assert snap_compare(frozen_app(deploying(), theme=theme), terminal_size=SIZES[size], press=["q"])
