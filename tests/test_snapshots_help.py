"""Looks of the help screen: every key."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, frozen_app, utc, waiting_for_approval  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, size, theme):
    assert snap_compare(frozen_app(waiting_for_approval(), theme=theme), terminal_size=SIZES[size], press=["question_mark"])
