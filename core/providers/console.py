"""Announcements to the captain's own terminal (stderr) when no chat is configured."""

from __future__ import annotations

import sys

from ..sanitize import plain
from .registry import ProviderSpec


class ConsoleNotifier:
    async def post(self, channel: str, text: str, key: str) -> str:
        print(f"[announce #{plain(channel)}] {plain(text)}", file=sys.stderr, flush=True)
        return "the console"

    async def was_posted(self, key: str) -> bool:
        return False  # a console line cannot be looked up; posting it again is harmless


PROVIDERS = (
    ProviderSpec(
        "notify",
        "console",
        "announcements printed on the captain's terminal (stderr)",
        build=lambda ctx: ConsoleNotifier(),
    ),
)
