"""Looks of the cockpit screen: before the deploy, mid-deploy, and watching (frozen data)."""

from __future__ import annotations

import pytest
from tui_fixtures import SIZES, THEMES, deploying, frozen_app, utc, waiting_for_approval, watching  # noqa: F401 - utc is an autouse fixture


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_cockpit_waiting_for_approval(snap_compare, size, theme):
    assert snap_compare(frozen_app(waiting_for_approval(), theme=theme), terminal_size=SIZES[size])


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_cockpit_deploying(snap_compare, size, theme):
    assert snap_compare(frozen_app(deploying(), theme=theme), terminal_size=SIZES[size])


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_cockpit_watching(snap_compare, size, theme):
    assert snap_compare(frozen_app(watching(), theme=theme), terminal_size=SIZES[size])


@pytest.mark.parametrize("state", [waiting_for_approval, deploying, watching])
def test_cockpit_high_contrast(snap_compare, state):
    assert snap_compare(frozen_app(state(), theme="high-contrast"), terminal_size=SIZES["80x24"])
