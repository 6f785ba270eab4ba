"""The cockpit's first frame does not wait for the runner process, nor import what it loads.

Each check runs in a fresh interpreter so that `sys.modules` shows what the cockpit's process
imported, not what other tests did. The runner is a real process whose status pipe the test
holds: it answers only when the test says so, so "the frame came first" needs no timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from attach_support import world_store
from cli_support import fast_world

SCRIPT = r"""
import asyncio, json, os, subprocess, sys
from pathlib import Path

from shipdeck.core.attach.protocol import socket_path
from shipdeck.core.commands import Authority
from shipdeck.core.store import Store
from shipdeck.tui.app import ShipdeckApp
from shipdeck.tui.cockpit_info import CockpitInfo
from shipdeck.tui.launching import LaunchingLink
from shipdeck.tui.runner_daemon import Launch

store_root, answer = Path(sys.argv[1]), sys.argv[2]
read_fd, write_fd = os.pipe()
# A stand-in runner process that says nothing until the test writes its status line.
process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
store = Store(store_root)
link = LaunchingLink(Launch(process, read_fd, store_root / "runner.log"), store, role="captain", by="t", history=[])
info = CockpitInfo(identity="t", authority=Authority(roles={}, approving_roles=(), rollback_roles=()))
app = ShipdeckApp(link, info, starting_what="release regular -> production")
HEAVY = ("shipdeck.core.session", "shipdeck.core.providers.wiring", "shipdeck.core.runner", "git", "datadog_api_client")

async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        report = {
            "screen": type(app.screen).__name__,
            "text": str(app.screen.query_one("#starting").render()),
            "heavy": [name for name in HEAVY if name in sys.modules],
            "socket_exists": socket_path(store_root).exists(),
            "refusal": await link.submit(None),
        }
        os.write(write_fd, (json.dumps(json.loads(answer)) + "\n").encode())
        for _ in range(100):
            await pilot.pause(0.05)
            if app.runner_code is not None:
                break
        report["after"] = str(app.screen.query_one("#starting").render())
        report["code"] = app.runner_code
        print(json.dumps(report))
    process.kill()

asyncio.run(main())
"""


def _run(store_root: Path, answer: dict[str, object]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(store_root), json.dumps(answer)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cockpit_shows_its_first_frame_before_the_runner_answers_and_without_the_providers(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    root = world_store(world).root
    report = _run(root, {"ok": False, "code": 4, "message": "shipdeck: [bold]held[/] by someone-else@host"})
    assert report["screen"] == "StartingScreen"
    assert "starting the release runner" in report["text"] and "not attached yet" in report["text"]
    assert report["heavy"] == []  # nothing that opens the session was imported for the first frame
    assert report["socket_exists"] is False
    assert "not attached" in report["refusal"]
    # The runner's own message, as plain text (never markup), and its exit code.
    assert "did not start" in report["after"] and "[bold]held[/] by someone-else@host" in report["after"]
    assert report["code"] == 4


def test_the_shipdeck_command_path_imports_nothing_heavy_before_the_app_runs() -> None:
    code = (
        "import sys, shipdeck.tui.commands.attached, shipdeck.tui.app, shipdeck.tui.launching, shipdeck.tui.starting, "
        "shipdeck.screens.cockpit; "
        "print([m for m in ('shipdeck.core.session', 'shipdeck.core.runner', 'shipdeck.core.providers.wiring', 'git', "
        "'datadog_api_client') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
