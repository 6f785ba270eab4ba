"""One announcement, posted at most once: the notify side effect every announcing path shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Intent
from .effects import Effect, Unresolved, perform

if TYPE_CHECKING:
    from .loop import Runner


async def post_once(runner: Runner, *, step_id: str, key: str, channel: str, text: str) -> Effect | Unresolved:
    """Post `text` to `channel` under `key`, reconciling a post a crash may have left open.

    A rehearsal's announcements say so. A notifier that cannot find its posts answers "not
    posted" on reconcile: posting again is the lesser harm than a silent channel.
    """
    notifier = runner.services.notifier
    if runner.state.rehearsal:
        text = f"[rehearsal] {text}"

    async def act(key: str) -> Effect:
        where = await notifier.post(channel, text, key)
        return Effect(True, f"posted to {where}: {text}", data={"where": where})

    async def reconcile(intent: Intent) -> Effect | None:
        if await notifier.was_posted(intent.key):
            return Effect(True, f"already posted to #{channel}: {text}")
        return None

    return await perform(runner, step_id=step_id, key=key, action="notify", params={"channel": channel}, act=act, reconcile=reconcile)
