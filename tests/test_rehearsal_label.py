"""A demo world is a rehearsal only while its deploys and flag changes are simulated."""

from __future__ import annotations

import tomllib
from pathlib import Path

from shipdeck.core.config import parse_config
from shipdeck.core.config_writer import render
from shipdeck.core.providers.wiring import is_rehearsal, real_in_sandbox
from shipdeck.core.sandbox.demo import demo_sections


def _demo_config(**replace: dict) -> object:
    data = tomllib.loads(render(demo_sections("healthy", "captain", pace="test")))
    data.update(replace)
    return parse_config(Path("shipdeck.toml"), data)


def test_the_demo_world_is_a_rehearsal_with_nothing_real() -> None:
    config = _demo_config()
    assert is_rehearsal(config) and real_in_sandbox(config) == []


def test_a_real_deployer_in_a_demo_world_makes_it_real_and_says_so() -> None:
    config = _demo_config(deploy={"provider": "command", "command": ["./deploy.sh", "{tag}"]})
    assert not is_rehearsal(config)
    assert real_in_sandbox(config) == ["deploy (command)"]


def test_a_real_smoke_check_alone_keeps_the_rehearsal_but_is_named() -> None:
    smoke = {"provider": "http", "checks": [{"name": "Login", "steps": [{"method": "GET", "path": "/"}]}]}
    config = _demo_config(smoke=smoke)
    assert is_rehearsal(config)  # nothing that changes production is real
    assert real_in_sandbox(config) == ["smoke (http)"]
