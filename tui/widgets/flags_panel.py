"""The flags panel: per feature flag the release ramps, its stage, share served, time at stage, watch health.

Production is the version plus the flag states shipdeck changed (`Release.flags`); the plan's
`ramp_stage` steps say which flags the release ramps and how each stage's watch is going. A flag
shipdeck has not moved yet is shown as not known: shipdeck reads a flag only when it moves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from textual.content import Content

from shipdeck.core.durations import format_duration
from shipdeck.core.model import Health, Release, StepState, StepStatus
from shipdeck.core.sanitize import plain

from ..status_marks import HEALTH_MARKS, STEP_MARKS
from .repaint import ChangedCells

RAMP_ACTION = "ramp_stage"
# The worst health decides what a stage's watch shows: a breach outranks a blind series.
HEALTH_RANK = (Health.BREACH, Health.BLIND, Health.WARN, Health.UNKNOWN, Health.OK)
TICK = 1.0  # time at stage moves every second


def ramped_flags(state: Release) -> list[str]:
    """The flags this release ramps (plan order), then any other flag shipdeck changed."""
    names: list[str] = []
    for step in state.steps:
        flag = step.spec.params.get("flag") if step.spec.action == RAMP_ACTION else None
        if flag and str(flag) not in names:
            names.append(str(flag))
    return names + [str(flag) for flag in state.flags if str(flag) not in names]


def flag_steps(state: Release, flag: str) -> list[StepState]:
    """The flag's ramp stages in plan order."""
    return [s for s in state.steps if s.spec.action == RAMP_ACTION and str(s.spec.params.get("flag", "")) == flag]


@dataclass(frozen=True)
class FlagRow:
    """What the panel shows for one flag, already worded: (text, style) pairs."""

    flag: str
    stage: str  # "" when shipdeck has not moved (so not read) the flag
    position: str  # "2/3": the stage's place in the ramp, "" when it is not one of its stages
    serves: str
    at_stage: str
    health: tuple[str, str]


def _serves(record: Mapping[str, Any]) -> str:
    """Who the flag serves, from the state read back after shipdeck's last change."""
    if not record.get("enabled", False):
        return "serves nobody"
    percent = int(record.get("percent", 0) or 0)
    team = bool(record.get("team", False))
    if percent <= 0:
        return "serves the team" if team else "serves nobody"
    return f"serves {percent}%" + (" + team" if team and percent < 100 else "")


def _short(seconds: float) -> str:
    """A duration as short as it goes: 15m rather than 15m00s (the panel is 37 cells wide at 80×24)."""
    text = format_duration(seconds)
    return text[: -len("00s")] if text.endswith("m00s") else text


def _watch_health(state: Release, step: StepState) -> tuple[str, str]:
    """The stage's watch: its status, and while it runs the worst series health and time observed."""
    if step.status is StepStatus.RUNNING:
        watch = state.watch(step.id)
        if watch is None:
            return ("… moving", "$accent bold")
        worst = min((h.health for h in state.series), key=HEALTH_RANK.index, default=Health.UNKNOWN)
        text, style = HEALTH_MARKS[worst]
        return (f"{text} {_short(watch.observed)}/{_short(watch.duration)}", style)
    if step.status is StepStatus.WAITING:
        if any(h.health is Health.BREACH for h in state.series):
            return ("✗ BREACH: your call", "$error bold reverse")
        return ("‖ waiting for you", "$warning bold")
    symbol, style = STEP_MARKS[step.status]
    words = {StepStatus.PASSED: "watched", StepStatus.PENDING: "not watched yet"}.get(step.status, step.status.value)
    return (f"{symbol} {words}", style)


def flag_row(state: Release, flag: str, now: float) -> FlagRow:
    """One flag's row: what shipdeck knows of it, and nothing it does not."""
    steps = flag_steps(state, flag)
    record = state.flags.get(flag)
    if record is None:
        upcoming = next((s for s in steps if not s.status.finished), None)
        next_stage = str(upcoming.spec.params.get("stage", "")) if upcoming else ""
        return FlagRow(flag, "", "", "state unknown", "", (f"next: {plain(next_stage)}" if next_stage else "", "$text-muted"))
    stage = str(record.get("stage", ""))
    stages = [str(s.spec.params.get("stage", "")) for s in steps]
    position = f"{stages.index(stage) + 1}/{len(stages)}" if stage in stages else ""
    at = record.get("at")
    at_stage = format_duration(now - float(at)) if isinstance(at, (int, float)) else ""
    step = next((s for s in steps if s.spec.params.get("stage") == stage), None)
    if stage == "off":
        health: tuple[str, str] = ("off", "$text-muted bold")
    elif step is None:
        health = ("not a stage of this ramp", "$warning")
    else:
        health = _watch_health(state, step)
    return FlagRow(flag, stage, position, _serves(record), at_stage, health)


class FlagsPanel(ChangedCells):
    """Two lines per flag; hidden while the release ramps none. Attributes down: `update_state`."""

    AUTO_HEIGHT = True

    DEFAULT_CSS = """
    FlagsPanel { height: auto; max-height: 6; padding: 0 1; background: $surface; }
    """

    def __init__(self, state: Release, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state = state
        self._clock = clock
        self._now = clock()  # read once per repaint: render() must draw what was compared
        self._rows: list[FlagRow] = []
        self._ticking = False
        self.display = bool(ramped_flags(state))

    @property
    def rows(self) -> list[FlagRow]:
        """What is shown, one entry per flag."""
        return list(self._rows)

    def on_mount(self) -> None:
        self.update_state(self._state)

    def update_state(self, state: Release) -> None:
        """Show `state`; only the cells that changed are sent to the terminal."""
        self._state, self._now = state, self._clock()
        flags = ramped_flags(state)
        self._rows = [flag_row(state, flag, self._now) for flag in flags]
        if not flags:
            # Hidden: a repaint of a widget with no size asks for a layout, and that resends the screen.
            self.display = False
            return
        self.display = True
        if not self._ticking:
            self._ticking = True
            self.set_timer(TICK, self._tick)
        self.repaint_changed()

    def _tick(self) -> None:
        # Chained, like the header's clock: a slow frame never queues ticks behind it.
        self._ticking = False
        self.update_state(self._state)

    def render(self) -> Content:
        lines: list[Content] = []
        for index, row in enumerate(self._rows):
            # Flag names come from config and the flag system's API: plain text, never markup.
            if row.stage:
                stage = Content.assemble(
                    "  ",
                    (plain(row.stage), "$accent bold"),
                    (f" ({row.position})" if row.position else "", "$text-muted"),
                    (f" · {row.at_stage}" if row.at_stage else "", ""),
                )
            else:
                stage = Content.styled("  not moved yet", "$text-muted")
            key_hint = ("  [f]", "$text-muted") if index == 0 else ("", "")  # "flag off": the key is not in the footer
            lines.append(Content.assemble(("⚑ ", "$accent"), (plain(row.flag), "bold"), stage, key_hint))
            lines.append(Content.assemble(("  " + row.serves, "$text-muted"), "  ", (plain(row.health[0]), row.health[1])))
        return Content("\n").join(lines)
