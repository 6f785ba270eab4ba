"""The `[[flags.ramp]]` entries: which flags shipdeck ramps, through which stages, watched how long.

```toml
[[flags.ramp]]
flag = "ai-copilot"
stages = ["team", "10%", "100%"]
team_segment = "internal-staff"
watch = "15m"
```
Validated when the config loads (through the flag provider's `check_section`), so a mistake is
reported with the file, key and line before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .durations import parse_duration
from .providers.flags_base import parse_stage, stage_percent
from .providers.registry import SettingError

if TYPE_CHECKING:
    from .config import Config

RAMP_KEYS = {"flag", "stages", "team_segment", "watch"}
DEFAULT_WATCH = 900.0  # 15 minutes: the reference process watches a canary at least that long


@dataclass(frozen=True)
class RampEntry:
    flag: str
    stages: tuple[str, ...]  # normalised: "team", "10%", "100%"
    team_segment: str
    watch: float  # seconds each stage is watched

    def previous(self, stage: str) -> str:
        """The stage before `stage` in this ramp (`off` before the first): where a breach returns."""
        if stage not in self.stages:
            return "off"
        index = self.stages.index(stage)
        return self.stages[index - 1] if index > 0 else "off"


def _entry(index: int, raw: Any) -> RampEntry:
    where = f"ramp[{index}]"
    if not isinstance(raw, Mapping):
        raise SettingError("ramp", f"{where} must be a table ([[flags.ramp]]), found {type(raw).__name__}")
    for key in raw:
        if key not in RAMP_KEYS:
            raise SettingError(f"ramp.{key}", f"{where}: unknown key '{key}'; [[flags.ramp]] takes: {', '.join(sorted(RAMP_KEYS))}")
    flag = raw.get("flag")
    if not isinstance(flag, str) or not flag.strip():
        raise SettingError("ramp.flag", f"{where} needs flag = \"NAME\" (the flag's key in the flag system)")
    stages_raw = raw.get("stages", ["team", "10%", "100%"])
    if not isinstance(stages_raw, list) or not stages_raw or not all(isinstance(s, (str, int)) for s in stages_raw):
        raise SettingError("ramp.stages", f"{where} (flag {flag!r}): stages must be a list like [\"team\", \"10%\", \"100%\"]")
    try:
        stages = tuple(parse_stage(str(s)) for s in stages_raw)
    except ValueError as error:
        raise SettingError("ramp.stages", f"{where} (flag {flag!r}): {error}") from None
    if "off" in stages:
        raise SettingError("ramp.stages", f"{where} (flag {flag!r}): off is where a ramp starts, not one of its stages")
    order = [(-1 if s == "team" else stage_percent(s)) for s in stages]
    if order != sorted(order) or len(set(order)) != len(order):
        raise SettingError("ramp.stages", f"{where} (flag {flag!r}): stages must widen: team first, then rising percentages, found {list(stages_raw)}")
    segment = raw.get("team_segment", "")
    if not isinstance(segment, str):
        raise SettingError("ramp.team_segment", f"{where} (flag {flag!r}): team_segment must be a segment's name")
    if not segment:
        # The team keeps the flag at every stage, and turning a flag on starts with the team.
        raise SettingError("ramp.team_segment", f"{where} (flag {flag!r}): needs team_segment = \"NAME\" (who is the team)")
    watch_raw = raw.get("watch", DEFAULT_WATCH)
    try:
        if isinstance(watch_raw, bool):
            raise ValueError(f"expected a duration like \"15m\", found {watch_raw!r}")
        watch = parse_duration(watch_raw)
    except (ValueError, TypeError) as error:
        raise SettingError("ramp.watch", f"{where} (flag {flag!r}): {error}") from None
    return RampEntry(flag.strip(), stages, segment, watch)


def check_ramp_section(section: Mapping[str, Any]) -> None:
    """Validate `[flags]`'s ramp entries; raises SettingError keyed under `ramp`."""
    parse_ramp(section)


def parse_ramp(section: Mapping[str, Any]) -> tuple[RampEntry, ...]:
    raw = section.get("ramp", [])
    if not isinstance(raw, list):
        raise SettingError("ramp", "write each flag to ramp as a [[flags.ramp]] table")
    entries = tuple(_entry(index, item) for index, item in enumerate(raw))
    seen: set[str] = set()
    for entry in entries:
        if entry.flag in seen:
            raise SettingError("ramp.flag", f"flag {entry.flag!r} has two [[flags.ramp]] entries; keep one")
        seen.add(entry.flag)
    return entries


def ramp_entries(config: Config) -> tuple[RampEntry, ...]:
    """The ramp entries of a loaded (already validated) config."""
    section = config.raw.get("flags") or {}
    return parse_ramp(section) if isinstance(section, Mapping) else ()


def ramp_entry(config: Config, flag: str) -> RampEntry | None:
    return next((entry for entry in ramp_entries(config) if entry.flag == flag), None)

