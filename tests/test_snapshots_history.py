"""Looks of the release history, read from real journal files."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, frozen_app, utc, waiting_for_approval, write_journals  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, tmp_path, size, theme):
    write_journals(tmp_path)
    app = frozen_app(waiting_for_approval(), theme=theme, tmp=tmp_path)
    assert snap_compare(app, terminal_size=SIZES[size], press=["h", "_"])
