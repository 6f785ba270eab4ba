"""Looks of the notes preview (commit subjects shown literally)."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, frozen_app, utc, waiting_for_approval, write_notes  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_notes_preview(snap_compare, tmp_path, size, theme):
    write_notes(tmp_path)
    app = frozen_app(waiting_for_approval(), theme=theme, tmp=tmp_path)
    assert snap_compare(app, terminal_size=SIZES[size], press=["n", "_"])
