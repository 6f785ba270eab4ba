"""A production config (no `[sandbox]`): real providers against loopback peers, for CLI tests.

The demo's generated repository and bare origin, Datadog answered by the loopback fake, and
whatever deploy/smoke/notify tables a test gives (a table the demo has, e.g. [roles], is
replaced; `http_smoke` gives [smoke] over HTTP against loopback products). Production is
what the test's deploy system says: the fake Datadog reads `production.log` (one "<epoch>
<tag>" line per deploy, appended by the scripts below), so a regression shows exactly while
the bad tag runs.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from shipdeck.core.config_writer import render
from shipdeck.core.sandbox.datadog_fake import FakeDatadog
from shipdeck.core.sandbox.demo import DemoWorld, demo_sections
from shipdeck.core.sandbox.demo_repo import build_demo_repo
from shipdeck.core.store import identity

DD_API_KEY = "dd-api-key-for-tests-0001"
DD_APP_KEY = "dd-app-key-for-tests-0001"
INITIAL_TAG = "v1.3.0"

# A deploy script and a status script that keep production in `production.log`.
DEPLOY_SH = """#!/bin/sh
# deploy.sh TAG ENVIRONMENT: what a team's script does, minus the cloud
echo "deploying $1 to $2"
echo "$1 $2 $SHIPDECK_KEY $(date +%s.%N)" >> "{root}/deploys.log"
sleep "${{DEPLOY_SECONDS:-0.2}}"
if [ -e "{root}/fail-deploy" ]; then echo "error: rollout failed" >&2; exit 3; fi
echo "$(date +%s.%N) $1" >> "{root}/production.log"
echo "deployed $1"
"""
STATUS_SH = """#!/bin/sh
tail -n 1 "{root}/production.log" | cut -d' ' -f2
"""


@dataclass
class ProductionWorld:
    world: DemoWorld
    datadog: FakeDatadog

    @property
    def root(self) -> Path:
        return self.world.root

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DD_API_KEY=DD_API_KEY, DD_APP_KEY=DD_APP_KEY)
        env.update(extra)
        return env

    def deploys(self) -> list[str]:
        """Every deploy the deploy script started: "<tag> <environment> <key> <started at>" lines."""
        path = self.root / "deploys.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def production(self) -> str:
        return (self.root / "production.log").read_text(encoding="utf-8").splitlines()[-1].split()[1]


def _production_view(log: Path) -> Any:
    def production(at: float) -> str:
        tag = INITIAL_TAG
        for line in log.read_text(encoding="utf-8").splitlines():
            when, _, deployed = line.partition(" ")
            if float(when) <= at:
                tag = deployed.strip()
        return tag

    return production


def write_script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def command_deploy(root: Path, **settings: Any) -> dict[str, Any]:
    """A `[deploy] provider = "command"` table over the scripts above."""
    deploy = write_script(root / "scripts" / "deploy.sh", DEPLOY_SH.format(root=root))
    status = write_script(root / "scripts" / "deployed-version.sh", STATUS_SH.format(root=root))
    table: dict[str, Any] = {"provider": "command", "command": [str(deploy), "{tag}", "{environment}"], "timeout": "60s"}
    table["status_command"] = [str(status)]
    table.update(settings)
    return {k: v for k, v in table.items() if v is not None}


def http_smoke(root: Path, staging: str, production: str) -> dict[str, dict[str, Any]]:
    """`[smoke] provider = "http"` (the init example's five critical paths) and `[environments]`
    at two loopback products (tests/fakes/product_server.py), as tables for `production_world`:
    smoke then needs no hand confirmation. The checks read SMOKE_EMAIL/SMOKE_PASSWORD."""
    import tomllib

    from smoke_support import product_repo

    from shipdeck.core.providers.smoke_example import SMOKE_EXAMPLE

    smoke = tomllib.loads(SMOKE_EXAMPLE)["smoke"]
    scripts = product_repo(root / "product")
    for check in smoke["checks"]:
        if check.get("kind") == "command":  # the demo repository stays clean: the script lives beside it
            check["argv"] = [str(scripts / "scripts" / "check-sendgrid.sh"), "{environment}", "{url}"]
    return {"smoke": smoke, "environments": {"staging": {"url": staging}, "production": {"url": production + "/"}}}


@contextmanager
def production_world(
    root: Path, *, deploy: Mapping[str, Any] | None = None, scenario: str = "regression", **tables: Mapping[str, Any]
) -> Iterator[ProductionWorld]:
    """The world, with the fake Datadog running; `scenario` is what a tag other than v1.3.0 does
    to the metrics (see the fake's SERIES_SCENARIOS: healthy, regression, blind, garbage)."""
    root = Path(root)
    repo = build_demo_repo(root, destructive_migration=False)
    log = root / "production.log"
    log.write_text(f"{time.time() - 3600:.3f} {INITIAL_TAG}\n", encoding="utf-8")
    datadog = FakeDatadog(api_key=DD_API_KEY, app_key=DD_APP_KEY, production=_production_view(log), initial_tag=INITIAL_TAG, scenario=scenario, rate_limit=1_000_000)
    datadog.start()
    try:
        sections = []
        for comment, table in demo_sections("healthy", identity(), pace="test"):
            if "sandbox" in table or set(table) & {"ci", "image", "deploy", "smoke", "notify"}:
                continue
            if "metrics" in table:
                metrics = dict(table["metrics"])
                metrics.update(url=datadog.url, api_key_env="DD_API_KEY", app_key_env="DD_APP_KEY")
                table = {"metrics": metrics}
            sections.append((comment, table))
        sections.append(("", {"deploy": dict(deploy) if deploy is not None else command_deploy(root)}))
        sections.append(("", {"notify": {"provider": "console"}}))
        for name, table in tables.items():  # a table the demo already has is replaced
            sections = [(comment, old) for comment, old in sections if name not in old]
            sections.append(("", {name: dict(table)}))
        config = root / "shipdeck.toml"
        config.write_text(render(sections), encoding="utf-8")
        yield ProductionWorld(DemoWorld(root=root, repo=repo.path, origin=repo.origin, config=config), datadog)
    finally:
        datadog.stop()


# Called beside each shipdeck process a test runs (in a thread), e.g. to SIGKILL it at a moment.
Watch = Callable[["subprocess.Popen[str]"], None]

# What a captain confirms by hand in these worlds: checks no provider answers, and approvals.
CONFIRMED_BY_HAND = ("CI green", "moke test", "CI status", "Approval", "Customer communication")


@dataclass(frozen=True)
class Confirming:
    """How `release_confirming` plays the people: `approvers` (SHIPDECK_USER names) also approve
    an approval step after the captain (a major release needs a second person); `watch(process)`
    runs in a thread beside each shipdeck process (e.g. to SIGKILL it at a moment)."""

    rounds: int = 8
    timeout: float = 180
    approvers: tuple[str, ...] = ()
    watch: Watch | None = None


def release_confirming(pw: ProductionWorld, *args: str, rounds: int = 8, timeout: float = 180, how: Confirming | None = None, **env: str) -> Any:
    """`release --auto`, confirming by hand (`approve`) each check no provider answers here
    (CI, smoke), as a captain would, until the release ends. Returns the last CompletedProcess."""
    return _confirming(pw, ["release", "--auto", "--yes", *args], how or Confirming(rounds, timeout), env)


def resume_confirming(pw: ProductionWorld, how: Confirming | None = None, **env: str) -> Any:
    """`resume --auto` (after a crash), confirming by hand like `release_confirming`."""
    return _confirming(pw, ["resume", "--auto"], how or Confirming(), env)


def _confirming(pw: ProductionWorld, first: list[str], how: Confirming, env: Mapping[str, str]) -> Any:
    cli = [sys.executable, "-m", "shipdeck.tui.cli", "--config", str(pw.world.config), "--repo", str(pw.world.repo)]

    def run(*argv: str, **who: str) -> subprocess.CompletedProcess[str]:
        process = subprocess.Popen([*cli, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=pw.env(**env, **who))
        watcher = threading.Thread(target=how.watch, args=(process,), daemon=True) if how.watch is not None else None
        if watcher is not None:
            watcher.start()
        try:
            out, err = process.communicate(timeout=how.timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        if watcher is not None:
            watcher.join(timeout=10)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    done = run(*first)
    for _ in range(how.rounds):
        asks = any(word in done.stderr for word in CONFIRMED_BY_HAND) and ("confirm" in done.stderr or "approval" in done.stderr)
        if done.returncode not in (4, 5) or not asks:
            return done
        approved = run("approve", "--reason", "checked by hand in the test")
        assert approved.returncode == 0, approved.stderr
        for person in how.approvers if "Approval" in done.stderr else ():
            approved = run("approve", "--reason", "approved in the test", SHIPDECK_USER=person)
            assert approved.returncode == 0, approved.stderr
        done = run("resume", "--auto")
    return done
