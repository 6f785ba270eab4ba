"""Demo worlds whose announcements go to the loopback Slack fake (and whose email to aiosmtpd)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from cli_support import fast_world

from shipdeck.core.sandbox.demo import DemoWorld


def rewrite_config(world: DemoWorld, **tables: Any) -> None:
    """Replace whole tables of the world's shipdeck.toml (e.g. notify=..., email=...)."""
    data = tomllib.loads(world.config.read_text(encoding="utf-8"))
    data.update(tables)
    world.config.write_text(tomli_w.dumps(data), encoding="utf-8")


def slack_bot_world(root: Path, api_url: str, scenario: str = "healthy") -> DemoWorld:
    """A fast demo world announcing through a Slack bot (token in SLACK_BOT_TOKEN) at `api_url`."""
    world = fast_world(root, scenario)
    rewrite_config(world, notify={"provider": "slack", "token_env": "SLACK_BOT_TOKEN", "api_url": api_url, "timeout": "5s"})
    return world
