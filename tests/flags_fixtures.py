"""Frozen releases that ramp a feature flag, for the cockpit's flags panel and "flag off" control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_events import CONFIG_DATA, SERIES
from tui_fixtures import CORPUS, BASE, Script, watching

from shipdeck.core.config import parse_config
from shipdeck.core.events import Event, EventKind
from shipdeck.core.model import ReleaseType
from shipdeck.core.plan import build_plan

FLAG = "ai-copilot"
RAMP = {"flag": FLAG, "stages": ["team", "10%", "100%"], "team_segment": "internal-staff", "watch": "15m"}


def flags_config(*ramps: dict[str, Any]) -> Any:
    data = {**CONFIG_DATA, "flags": {"provider": "unleash", "url": "http://127.0.0.1:4242", "ramp": list(ramps or (RAMP,))}}
    return parse_config(Path("shipdeck.toml"), data)


def _with_ramp_plan(script: Script, *ramps: dict[str, Any]) -> Script:
    """The script's release, planned with `[[flags.ramp]]` entries."""
    first = script.events[0]
    plan = build_plan(ReleaseType.REGULAR, flags_config(*ramps))
    script.events[0] = Event(first.kind, {**first.data, "plan": [s.to_dict() for s in plan], "series": [s.to_dict() for s in SERIES]}, at=first.at, seq=first.seq)
    return script


def _moved(script: Script, flag: str, stage: str, percent: int, came_from: str, advance: float = 1.0) -> None:
    state = {"flag": flag, "enabled": True, "team": True, "percent": percent, "version": f"v-{stage}"}
    script.add(EventKind.FLAG_CHANGED, advance=advance, flag=flag, stage=stage, state=state, step=f"ramp.{flag}.{stage.rstrip('%')}", **{"from": came_from})


def _samples(script: Script, count: int, bad: bool = False) -> None:
    for index in range(count):
        script.at += 60
        values = {"error_rate": 7.6 if bad else 0.4 + (index % 5) * 0.05, "p95_latency": 310.0 + (index % 7) * 10, "queue_depth": 30.0 + (index % 4) * 5}
        for name, value in values.items():
            script.add(EventKind.SAMPLE, advance=0, series=name, at=script.at, value=value)


def mid_ramp(*, breach: bool = False, extra_flag: str = "") -> Script:
    """The release's watch passed; ai-copilot went to the team, then to 10 %, watched for 6 minutes.

    `breach`: error_rate breaches at 10 % and the stage waits for a person.
    `extra_flag`: a second flag, ramped in config but not moved yet (its name is untrusted text).
    """
    ramps = [RAMP] + ([{**RAMP, "flag": extra_flag}] if extra_flag else [])
    script = _with_ramp_plan(watching(samples=6), *ramps)
    script.add(EventKind.STEP_PASSED, step="watch", summary="watched 30m: healthy")
    team, ten = f"ramp.{FLAG}.team", f"ramp.{FLAG}.10"
    script.add(EventKind.STEP_STARTED, step=team)
    _moved(script, FLAG, "team", 0, "off")
    script.add(EventKind.WATCH_STARTED, step=team, duration=900.0, interval=60.0, at=script.at)
    _samples(script, 15)
    script.add(EventKind.STEP_PASSED, step=team, summary=f"{FLAG} at team; watched 15m: healthy")
    script.add(EventKind.STEP_STARTED, step=ten)
    _moved(script, FLAG, "10%", 10, "off")
    script.add(EventKind.WATCH_STARTED, step=ten, duration=900.0, interval=60.0, at=script.at)
    _samples(script, 3)
    if breach:
        _samples(script, 3, bad=True)
        script.add(EventKind.BREACH_CONFIRMED, series="error_rate")
        script.add(EventKind.STEP_WAITING, step=ten, reason=f"sustained breach at {FLAG} 10%")
    else:
        _samples(script, 3)
    return script


__all__ = ["BASE", "CORPUS", "FLAG", "mid_ramp", "flags_config"]
