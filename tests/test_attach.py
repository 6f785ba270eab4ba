"""The release outlives its views: a runner process, captains and viewers attaching and leaving.

Everything here is real: the runner is a detached process started as `shipdeck` starts it,
views are `shipdeck` subprocesses (or a SocketLink over the real socket), and the demo
world's simulated production and loopback Datadog fake drive the watch.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from attach_support import exited, kill_runner, start_runner, wait_for, world_store
from cli_support import fast_world, journal_events, shipdeck, spawn

from shipdeck.core.attach.client import SocketLink
from shipdeck.core.attach.protocol import VIEWER, AttachError, socket_path
from shipdeck.core.commands import Command
from shipdeck.core.store import identity

pytestmark = pytest.mark.slow

DEPLOYING = lambda e: e["kind"] == "step_progressed" and e["data"]["step"] == "deploy"  # noqa: E731
WATCHING = lambda e: e["kind"] == "sample"  # noqa: E731


@pytest.fixture
def runners():
    pids: list[int] = []
    yield pids
    for pid in pids:
        kill_runner(pid)


def _captain(world) -> subprocess.Popen[str]:
    """A captain attached in line mode: `shipdeck resume --auto --detach` finds the runner."""
    return spawn(world, "resume", "--auto", "--detach", "--json")


def _regression_with_a_captain(tmp_path: Path, runners: list[int]):
    """A breaching release whose runner has the cockpit's policy, and a captain attached to it."""
    world = fast_world(tmp_path, scenario="regression")
    started = start_runner(world, assume_yes=True)
    runners.append(started.pid)
    return world, _captain(world)


def test_the_mode_of_the_socket_and_its_folder(tmp_path: Path, runners) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=False)
    runners.append(started.pid)
    path = Path(started.socket)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(path.stat().st_mode)


def test_nobody_attached_before_production_changes_the_runner_waits_then_a_command_over_the_socket_goes_on(
    tmp_path: Path, runners
) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=False)
    runners.append(started.pid)
    waiting = wait_for(world, lambda e: e["kind"] == "step_waiting" and e["data"]["step"] == "approval")
    time.sleep(1.5)  # nobody attached: it waits, as a runner under the cockpit always did
    assert journal_events(world)[-1]["seq"] == waiting["seq"]

    approved = shipdeck(world, "approve")  # over the socket: the lock is the runner's
    assert approved.returncode == 0, approved.stderr
    assert "accepted by the release's runner" in approved.stderr
    wait_for(world, lambda e: e["kind"] == "approval_granted" and e["data"]["by"] == identity())
    assert not list(world_store(world).inbox.glob("*.json")) if world_store(world).inbox.exists() else True


@pytest.mark.parametrize("how", ["SIGHUP", "SIGKILL"])
@pytest.mark.parametrize("point", ["mid-deploy", "mid-watch"])
def test_a_captain_leaving_never_stops_the_release_and_a_breach_while_away_is_rolled_back(
    tmp_path: Path, runners, how: str, point: str
) -> None:
    world = fast_world(tmp_path, scenario="regression")
    started = start_runner(world, assume_yes=True)
    runners.append(started.pid)
    captain = _captain(world)
    wait_for(world, DEPLOYING if point == "mid-deploy" else WATCHING)
    captain.send_signal(getattr(signal, how))
    captain.communicate(timeout=30)

    rolled = wait_for(world, lambda e: e["kind"] == "rollback_requested", timeout=90)
    assert rolled["data"]["automatic"] is True
    assert exited(started.pid, 90), "the runner should end once the rollback is done"
    events = journal_events(world)
    notes = [e["data"]["message"] for e in events if e["kind"] == "note"]
    assert any("nobody is attached and production has changed" in n for n in notes)
    assert any("rolled back on its own while nobody was attached" in n for n in notes)
    assert events[-1]["kind"] in ("step_passed", "note", "release_rolled_back") or any(
        e["kind"] == "production_changed" and e["data"]["version"] == "v1.3.0" for e in events
    )
    assert any(e["kind"] == "production_changed" and e["data"]["version"] == "v1.3.0" for e in events)

    # The captain returns: the journal's evidence is what they see.
    status = shipdeck(world, "status", "--json")
    assert json.loads(status.stdout)["running"] is False
    history = shipdeck(world, "history", "--json")
    assert "rolled_back" in history.stdout


def test_a_captain_attached_decides_and_the_runner_does_not_roll_back_on_its_own(tmp_path: Path, runners) -> None:
    world, captain = _regression_with_a_captain(tmp_path, runners)
    try:
        wait_for(world, lambda e: e["kind"] == "breach_confirmed", timeout=90)
        time.sleep(2.0)  # plenty of polls at the test pace: a captain is there, so it is their call
        assert not [e for e in journal_events(world) if e["kind"] == "rollback_requested"]
    finally:
        captain.send_signal(signal.SIGHUP)
        captain.communicate(timeout=30)
    # The captain left with the breach standing: now the runner acts on its own.
    rolled = wait_for(world, lambda e: e["kind"] == "rollback_requested", timeout=60)
    assert rolled["data"]["automatic"] is True


def test_two_viewers_and_a_captain_at_once_and_a_viewer_cannot_act(tmp_path: Path, runners) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=False)
    runners.append(started.pid)
    wait_for(world, lambda e: e["kind"] == "step_waiting" and e["data"]["step"] == "approval")
    viewers = [spawn(world, "watch", "--json") for _ in range(2)]
    path = socket_path(world_store(world).root)

    async def as_viewer() -> str | None:
        link = SocketLink(path, role=VIEWER, by="someone")
        following = asyncio.create_task(link.run())
        while link.runner_pid == 0:
            await asyncio.sleep(0.01)
        refusal = await link.submit(Command(verb="approve", by=identity(), step="approval"))
        link.stop()
        await following
        return refusal

    refusal = asyncio.run(as_viewer())
    assert refusal is not None and "read-only view" in refusal
    assert not [e for e in journal_events(world) if e["kind"] == "approval_granted"]

    approved = shipdeck(world, "approve")
    assert approved.returncode == 0, approved.stderr
    for viewer in viewers:
        stdout, stderr = viewer.communicate(timeout=90)
        assert viewer.returncode == 0, stderr
        kinds = [json.loads(line)["kind"] for line in stdout.splitlines()]
        assert kinds[0] == "release_started" and "approval_granted" in kinds
        seqs = [json.loads(line)["seq"] for line in stdout.splitlines()]
        assert seqs == list(range(1, len(seqs) + 1))  # replayed from the journal, then live: no gap, no repeat
    assert exited(started.pid, 30)


def test_another_user_cannot_connect(tmp_path: Path, runners) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to act as a second uid")
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=False)
    runners.append(started.pid)
    path = Path(started.socket)
    probe = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from shipdeck.core.attach.protocol import connect_socket, AttachError\n"
        "os.setgid(65534); os.setuid(65534)  # imports first: 'nobody' may not read the venv\n"
        "try:\n"
        "    s = connect_socket(Path(sys.argv[1]))\n"
        "except AttachError as e:\n"
        "    print('REFUSED-BY-MODE', e); sys.exit(0)\n"
        "s.setblocking(True); s.settimeout(10)  # the runner speaks first to a peer it refuses\n"
        "print('ANSWER', s.recv(65536).decode())\n"
    )

    def attempt() -> str:
        done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    # The modes (0700 folder, 0600 socket) stop another uid first...
    assert "REFUSED-BY-MODE" in attempt()
    # ...and SO_PEERCRED stops it even when someone loosened the modes.
    loosened = {}
    for folder in [path.parent, *path.parent.parents]:
        if folder == Path("/tmp") or folder == folder.parent:
            break
        loosened[folder] = os.stat(folder).st_mode
        os.chmod(folder, loosened[folder] | 0o005)
    os.chmod(path, 0o666)
    try:
        answer = attempt()
    finally:
        for folder, mode in loosened.items():
            os.chmod(folder, stat.S_IMODE(mode))
    assert "ANSWER" in answer and '"op":"refused"' in answer and "uid 65534 may not attach" in answer
    assert '"event"' not in answer


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("point", ["waiting", "mid-deploy"])
def test_a_signal_to_the_runner_stops_it_at_a_safe_point_journaled(tmp_path: Path, runners, signum, point: str) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=point != "waiting")
    runners.append(started.pid)
    if point == "waiting":
        wait_for(world, lambda e: e["kind"] == "step_waiting" and e["data"]["step"] == "approval")
    else:
        wait_for(world, DEPLOYING)
    os.kill(started.pid, signum)
    assert exited(started.pid, 30)
    name = signal.Signals(signum).name
    events = journal_events(world)
    assert events[-1]["kind"] == "note" and f"stopped by {name}" in events[-1]["data"]["message"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert not Path(started.socket).exists()
    status = json.loads(shipdeck(world, "status", "--json").stdout)
    assert status["running"] is False  # never "running" for a runner that is gone

    resumed = shipdeck(world, "resume", "--auto", "--yes")
    assert resumed.returncode == 0, resumed.stderr


def test_status_does_not_call_a_killed_runner_running_and_a_new_one_takes_over(tmp_path: Path, runners) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=False)
    runners.append(started.pid)
    wait_for(world, lambda e: e["kind"] == "step_waiting")
    assert json.loads(shipdeck(world, "status", "--json").stdout)["running"] is True
    kill_runner(started.pid)
    assert json.loads(shipdeck(world, "status", "--json").stdout)["running"] is False
    with pytest.raises(AttachError):
        asyncio.run(SocketLink(Path(started.socket)).run())  # a stale socket is reported, not hung on
    again = start_runner(world, assume_yes=False)
    runners.append(again.pid)
    assert any("took over the release lock" in n for n in again.notes)


def test_the_captains_rollback_goes_over_the_socket_and_a_different_release_is_refused(tmp_path: Path, runners) -> None:
    world, captain = _regression_with_a_captain(tmp_path, runners)
    try:
        other = shipdeck(world, "release", "--type", "hotfix", "--auto", "--detach")
        assert other.returncode == 2 and "already in progress" in other.stderr, other.stderr
        wait_for(world, lambda e: e["kind"] == "breach_confirmed", timeout=90)
        called = shipdeck(world, "rollback", "--reason", "captain's call")
        assert called.returncode == 0, called.stderr
        assert "accepted by the release's runner" in called.stderr
        rolled = wait_for(world, lambda e: e["kind"] == "rollback_requested")
        assert rolled["data"]["automatic"] is False and rolled["data"]["by"] == identity()
        assert rolled["data"]["reason"] == "captain's call"
    finally:
        captain.send_signal(signal.SIGHUP)
        captain.communicate(timeout=30)


def test_a_second_signal_exits_the_runner_at_once_with_the_journal_whole(tmp_path: Path, runners) -> None:
    world = fast_world(tmp_path)
    started = start_runner(world, assume_yes=True)
    runners.append(started.pid)
    wait_for(world, DEPLOYING)
    os.kill(started.pid, signal.SIGTERM)
    os.kill(started.pid, signal.SIGTERM)
    assert exited(started.pid, 10)
    paths = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))
    raw = paths[-1].read_bytes()
    assert raw.endswith(b"\n")  # whole lines only
    events = journal_events(world)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert json.loads(shipdeck(world, "status", "--json").stdout)["running"] is False
    resumed = shipdeck(world, "resume", "--auto", "--yes")
    assert resumed.returncode == 0, resumed.stderr
