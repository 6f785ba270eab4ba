"""The runner process itself: headless (no Textual), and how it reports a failed start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from attach_support import world_store
from cli_support import fast_world, shipdeck

from shipdeck.core.lock import ReleaseLock
from shipdeck.core.session import Options
from shipdeck.tui.runner_daemon import spawn_runner


def test_the_runner_process_never_imports_textual() -> None:
    code = "import sys, shipdeck.tui.runner_daemon; print('textual' in sys.modules, 'rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_runner_that_cannot_start_says_why_with_the_commands_exit_code(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    store = world_store(world)
    held = ReleaseLock(store.lock_path, "someone-else", command="release")
    held.acquire()
    try:
        options = Options(config_path=world.config, repo_path=world.repo, interactive=True, force=True)
        started = spawn_runner(options, store.root)
        assert not started.ok
        assert started.code == 4 and "held by someone-else@" in started.message
        cli = shipdeck(world, "release", "--auto", "--detach")
        assert cli.returncode == 4 and "held by someone-else@" in cli.stderr and "Traceback" not in cli.stderr
    finally:
        held.release()


def test_a_broken_config_is_reported_before_any_runner_starts(tmp_path: Path) -> None:
    world = fast_world(tmp_path)
    runner_dir = world_store(world).root / "runner"
    world.config.write_text(world.config.read_text(encoding="utf-8") + "\n[watch\n", encoding="utf-8")
    cli = shipdeck(world, "release", "--auto", "--detach")
    assert cli.returncode == 2 and "configuration error" in cli.stderr and "Traceback" not in cli.stderr
    assert not runner_dir.exists()


def test_a_bad_provider_table_is_reported_by_the_runner_with_file_key_and_line(tmp_path: Path) -> None:
    # The attaching view leaves provider tables to the runner (its first frame does not wait
    # for them); the runner's full check must still reach the captain, line and all.
    world = fast_world(tmp_path)
    import re

    text = re.sub(r"(\[deploy\][^\[]*?)tasks = \d+", r"\1tasks = 0", world.config.read_text(encoding="utf-8"))
    assert "tasks = 0" in text
    world.config.write_text(text, encoding="utf-8")
    cli = shipdeck(world, "release", "--auto", "--detach")
    assert cli.returncode == 2, cli.stderr
    assert "configuration error" in cli.stderr and "[deploy.tasks] must be at least 1" in cli.stderr and "Traceback" not in cli.stderr
    assert f"{world.config}:" in cli.stderr  # the file and its line
