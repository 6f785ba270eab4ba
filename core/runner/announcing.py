"""One announcement, posted at most once: the notify side effect every announcing path shares.

A notifier that keeps one thread per release (Slack with a bot token: `announce`, see
providers/base.py `KeepsThread`) gets the thread its first post returned. That thread (a
channel id and a message ts) is journaled as the outcome's data and read back from the state,
so a restarted release keeps editing the same message instead of starting a second one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..model import Intent
from ..providers.base import Announcement
from .effects import Effect, Unresolved, perform

if TYPE_CHECKING:
    from .loop import Runner


def release_thread(runner: Runner) -> Mapping[str, str]:
    """The thread of this release's announcements, as the journal last recorded it ({} before the first)."""
    thread: Mapping[str, str] = {}
    for record in runner.state.outcomes.values():
        found = (record.result.get("data") or {}).get("thread") if record.status == "done" else None
        if isinstance(found, Mapping) and found.get("ts"):
            thread = {str(k): str(v) for k, v in found.items()}
    return thread


async def post_once(
    runner: Runner, *, step_id: str, key: str, channel: str, text: str, moment: str = "", headline: str = ""
) -> Effect | Unresolved:
    """Post `text` to `channel` under `key`, reconciling a post a crash may have left open.

    `moment` and `headline` are for a notifier that edits one message per release; others
    post `text`. A rehearsal's announcements say so. A notifier that cannot find its posts
    answers "not posted" on reconcile: posting again is the lesser harm than a silent channel.
    """
    notifier = runner.services.notifier
    if runner.state.rehearsal:
        text = f"[rehearsal] {text}"
        headline = f"[rehearsal] {headline}" if headline else headline
    announce = getattr(notifier, "announce", None)

    async def act(key: str) -> Effect:
        if announce is None or not moment:
            where = await notifier.post(channel, text, key)
            return Effect(True, f"posted to {where}: {text}", data={"where": where})
        posted = await announce(Announcement(moment, channel, text, headline or text, release_thread(runner)), key)
        data: dict[str, Any] = {"where": posted.where}
        if posted.thread:
            data["thread"] = dict(posted.thread)  # ids Slack chose, not secrets: what a restart edits
        summary = f"posted to {posted.where}: {text}"
        if posted.missed:
            summary += "; but " + "; ".join(posted.missed)
        return Effect(True, summary, data=data)

    async def reconcile(intent: Intent) -> Effect | None:
        if await notifier.was_posted(intent.key):
            return Effect(True, f"already posted to #{channel}: {text}")
        return None

    return await perform(runner, step_id=step_id, key=key, action="notify", params={"channel": channel}, act=act, reconcile=reconcile)
