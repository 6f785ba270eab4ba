"""A headless release with `[smoke] provider = "http"`: a critical path broken after the deploy rolls back.

The real CLI in a subprocess, the demo world's repository and simulated deployer, and the
real HTTP smoke provider against two loopback products (staging and production). Production
breaks "apply to a job" while it runs the new tag, so the release must roll back (exit 3),
and the smoke test after the rollback must pass against the restored version.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from cli_support import fast_world, journal_events, shipdeck
from fakes.product_server import ProductServer
from smoke_support import SMOKE_ENV, product_repo

from shipdeck.core.providers.smoke_example import SMOKE_EXAMPLE

pytestmark = pytest.mark.slow


def _use_http_smoke(config: Path, staging: str, production: str, scripts: Path) -> None:
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    smoke = tomllib.loads(SMOKE_EXAMPLE)["smoke"]
    for check in smoke["checks"]:
        if check.get("kind") == "command":  # the repository stays clean: the script lives beside it
            check["argv"] = [str(scripts / "scripts" / "check-sendgrid.sh"), "{environment}", "{url}"]
    data["smoke"] = smoke
    data["environments"] = {"staging": {"url": staging}, "production": {"url": production + "/"}}
    config.write_text(tomli_w.dumps(data), encoding="utf-8")


def _production_tag(world_file: Path) -> str:
    try:
        return str(json.loads(world_file.read_text(encoding="utf-8"))["production_tag"])
    except (OSError, ValueError, KeyError):
        return ""


def test_a_broken_critical_path_after_the_deploy_rolls_back_and_the_restored_version_passes(tmp_path: Path) -> None:
    world = fast_world(tmp_path / "world")
    world_file = world.root / "world.json"
    with ProductServer() as staging, ProductServer() as production:
        production.break_route("apply", when=lambda: _production_tag(world_file) == "v1.4.0")
        _use_http_smoke(world.config, staging.url, production.url, product_repo(tmp_path / "product"))
        result = shipdeck(world, "release", "--auto", "--yes", **SMOKE_ENV)

    assert result.returncode == 3, result.stderr
    assert _production_tag(world_file) == "v1.3.0"
    events = journal_events(world)
    finished = {e["data"]["step"]: e["data"] for e in events if e["kind"] in ("step_passed", "step_failed")}

    staging_smoke = finished["preflight.staging"]
    assert staging_smoke["summary"] == "5/5 critical paths pass on staging"
    verify = finished["verify.smoke"]
    assert verify["summary"].startswith("Apply to a job (end to end) failed on production: step 3 POST /api/jobs/7/applications: status 500")
    evidence = dict(verify["evidence"])
    assert evidence["Login works"].startswith("ok in ")
    assert evidence["Apply to a job (end to end)"].startswith("FAILED in ")
    assert "expected status 201, application.status = 'submitted'" in evidence["Apply to a job (end to end)"]
    assert "got status 500; body " in evidence["Apply to a job (end to end)"]

    rollback = [e for e in events if e["kind"] == "rollback_requested"]
    assert rollback and rollback[0]["data"]["automatic"] is True
    assert finished["rollback.smoke"]["summary"] == "5/5 critical paths pass on production"
    assert production.requests.count("POST /api/jobs/7/applications") == 2  # after the deploy, after the rollback

    artifacts = result.stdout + result.stderr + json.dumps(events)
    assert SMOKE_ENV["SMOKE_PASSWORD"] not in artifacts and SMOKE_ENV["SMOKE_EMAIL"] not in artifacts
    assert not any(token in artifacts for token in production.tokens | staging.tokens)
