"""A release announced by a Slack bot, end to end through the CLI: one message for the release,
edited in place, with thread replies; killed with SIGKILL after the first announcement, the
resumed process reads the message's ts back from the journal and keeps editing the same one."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from announce_support import slack_bot_world
from cli_support import journal_events, shipdeck, spawn
from fakes.slack_fake import FakeSlack
from test_cli_release import _wait_for_event

pytestmark = pytest.mark.slow

TOKEN = "xoxb-release-thread-token"


def test_the_release_thread_survives_a_kill_and_tells_the_rollback(tmp_path: Path) -> None:
    with FakeSlack(token=TOKEN) as slack:
        world = slack_bot_world(tmp_path, slack.api_url, "regression")
        process = spawn(world, "release", "--auto", "--yes", SLACK_BOT_TOKEN=TOKEN)
        _wait_for_event(world, lambda e: e["kind"] == "outcome" and ":announce.deploy:" in e["data"]["key"])
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

        resumed = shipdeck(world, "resume", "--auto", SLACK_BOT_TOKEN=TOKEN)
        assert resumed.returncode == 3, resumed.stderr  # rolled back
        messages = slack.messages("C0ENGINEERING")

    [release] = [m for m in messages if m.thread_ts is None]
    assert release.edits == ["[rehearsal] v1.4.0 to prod: deploying", "[rehearsal] v1.4.0 on prod: rolling back to v1.3.0"]
    assert release.text == "[rehearsal] v1.4.0 rolled back to v1.3.0 on prod"
    replies = [m.text for m in messages if m.thread_ts == release.ts]
    assert replies[0] == "[rehearsal] Deploying v1.4.0 to prod"
    assert replies[1].startswith("[rehearsal] Rolling back v1.4.0 to v1.3.0: sustained breach")
    assert replies[2].startswith("[rehearsal] Rolled back to v1.3.0 due to sustained breach") and len(replies) == 3

    outcomes = [e["data"] for e in journal_events(world) if e["kind"] == "outcome" and ":announce" in e["data"]["key"] or ":rollback." in str(e["data"].get("key"))]
    threads = {str(o["result"]["data"].get("thread")) for o in outcomes if o.get("result", {}).get("data", {}).get("thread")}
    assert threads == {str({"channel": "C0ENGINEERING", "name": "engineering", "ts": release.ts})}
    assert TOKEN not in world.config.read_text() and all(TOKEN not in str(e) for e in journal_events(world))


def test_slack_down_never_blocks_the_rollback(tmp_path: Path) -> None:
    with FakeSlack(token=TOKEN) as slack:
        world = slack_bot_world(tmp_path, slack.api_url, "regression")
        slack.fail("/api/chat.postMessage", 500, times=1000)
        slack.fail("/api/chat.update", 500, times=1000)
        result = shipdeck(world, "release", "--auto", "--yes", SLACK_BOT_TOKEN=TOKEN)
        assert slack.messages() == [] and slack.count("/api/chat.postMessage") > 0

    assert result.returncode == 3, result.stderr  # rolled back all the same
    events = journal_events(world)
    skipped = {e["data"]["step"]: e["data"]["reason"] for e in events if e["kind"] == "step_skipped"}
    for step in ("announce.deploy", "rollback.announce", "rollback.done"):
        assert "HTTP 500" in skipped[step], skipped
    assert any(e["kind"] == "production_changed" and e["data"]["version"] == "v1.3.0" for e in events)
