"""The feature-flag backend Protocol, the state it reports, and the ramp's stages.

A ramp moves a flag through stages: off → team (a segment only) → a percentage of everyone →
100 %. A backend reads a flag's state in one environment and changes one thing at a time; every
change is read-compare-write-reread by the caller, so a backend's write methods take the state
they expect to find (`expected_version`) and refuse to write over someone else's change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from .base import ProviderError

_PERCENT = re.compile(r"^(\d{1,3})\s*%?$")


class FlagConflict(ProviderError):
    """The flag changed between our read and our write (someone else moved it): read again."""


@dataclass(frozen=True)
class FlagState:
    """A flag in one environment, as the flag system reports it.

    `percent` is the share of all users the public rollout serves (0 when there is none);
    `team` is whether the team segment is served regardless of the percentage. `version`
    identifies this exact state (an etag, a version number, or a digest of what was read):
    writes pass it back so that a concurrent change is refused instead of overwritten.
    """

    flag: str
    enabled: bool
    team: bool
    percent: int
    version: str

    @property
    def stage(self) -> str:
        """The ramp stage this state is: off, team, N% (what `shipdeck status` shows)."""
        if not self.enabled or (not self.team and self.percent == 0):
            return "off"
        if self.percent == 0:
            return "team"
        return f"{self.percent}%"

    def to_json(self) -> dict[str, Any]:
        return {"flag": self.flag, "enabled": self.enabled, "team": self.team, "percent": self.percent, "version": self.version}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FlagState:
        return cls(str(raw["flag"]), bool(raw["enabled"]), bool(raw["team"]), int(raw["percent"]), str(raw["version"]))


def digest(payload: Any) -> str:
    """A short stable version for systems that report none: the digest of what was read."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def parse_stage(text: str) -> str:
    """Normalise a stage as written in config or on the command line: off, team, or N%.

    Raises ValueError with a sentence naming what is accepted.
    """
    value = str(text).strip().lower()
    if value in ("off", "team"):
        return value
    match = _PERCENT.match(value)
    if match and 1 <= int(match.group(1)) <= 100:
        return f"{int(match.group(1))}%"
    raise ValueError(f"unknown stage {text!r}: use off, team, or a percentage from 1 to 100 like \"10%\"")


def stage_percent(stage: str) -> int:
    """The public percentage a normalised stage serves (0 for off and team)."""
    return int(stage[:-1]) if stage.endswith("%") else 0


class FlagBackend(Protocol):
    """One flag system (Unleash, LaunchDarkly) in one project and environment."""

    async def read(self, flag: str) -> FlagState:
        """The flag's state now. Raises ProviderError when the flag or system is unreachable."""
        ...

    async def enable_for_segment(self, flag: str, segment: str, expected_version: str) -> FlagState:
        """Turn the flag on for `segment` (the team), keeping any public percentage; returns the state after."""
        ...

    async def set_percent(self, flag: str, percent: int, expected_version: str) -> FlagState:
        """Serve `percent` of all users (0 removes the public rollout); returns the state after.

        Raises FlagConflict when the flag no longer has `expected_version`.
        """
        ...

    async def turn_off(self, flag: str, expected_version: str) -> FlagState:
        """Serve the flag to nobody in this environment; returns the state after."""
        ...

    async def aclose(self) -> None:
        """Release the HTTP client."""
        ...
