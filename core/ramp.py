"""The ramp's plan and its one move: bring a flag to a stage by read-compare-write-reread.

`move_flag` reads the flag, writes only what differs from the target stage (each write passing
the version it just read), and reads it back; the result says what it saw before, after, and
how many writes it made. Run again on a flag already at the stage it writes nothing, which is
what makes a resumed ramp reconcile instead of repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Group, Phase, StepSpec
from .providers.base import ProviderError
from .providers.flags_base import FlagBackend, FlagState, stage_percent
from .ramp_config import RampEntry


@dataclass(frozen=True)
class Move:
    before: FlagState
    after: FlagState
    writes: int


async def move_flag(backend: FlagBackend, flag: str, stage: str, segment: str) -> Move:
    """Bring `flag` to `stage` (off, team, N%); raises ProviderError if it does not read back so."""
    before = state = await backend.read(flag)
    writes = 0
    percent = stage_percent(stage)
    if stage == "off":
        if state.enabled:
            state = await backend.turn_off(flag, state.version)
            writes += 1
    else:
        if state.percent > percent or (not state.enabled and state.percent != percent):
            # Narrow first (and while off, set the share before turning on): never wider than asked.
            state = await backend.set_percent(flag, percent, state.version)
            writes += 1
        if not state.enabled or (segment and not state.team):
            if not segment:
                raise ProviderError(f"flag {flag}: the {stage} stage needs a team_segment in [[flags.ramp]] to turn the flag on")
            state = await backend.enable_for_segment(flag, segment, state.version)
            writes += 1
        if state.percent != percent:
            state = await backend.set_percent(flag, percent, state.version)
            writes += 1
    after = await backend.read(flag)
    if after.stage != stage:
        raise ProviderError(f"flag {flag}: asked for {stage}, but it reads back as {after.stage} (someone else may be changing it)")
    return Move(before, after, writes)


def stage_step_id(flag: str, stage: str) -> str:
    return f"ramp.{flag}.{stage.rstrip('%')}"


def ramp_steps(entry: RampEntry, to: str | None = None, *, group: Group = Group.POST_RELEASE, phase: Phase = Phase.RELEASED) -> list[StepSpec]:
    """One step per stage up to `to` (default: the whole ramp): move the flag, then watch it.

    `to` = "off" is a single step turning the flag off. A stage not in the entry's ramp is a
    ValueError naming the stages it has.
    """
    if to == "off":
        stages: tuple[str, ...] = ("off",)
    elif to is None:
        stages = entry.stages
    elif to in entry.stages:
        stages = entry.stages[: entry.stages.index(to) + 1]
    else:
        raise ValueError(f"{entry.flag} ramps through {', '.join(entry.stages)}; --to {to} is not one of them (or off)")
    steps = []
    for stage in stages:
        previous = "off" if stage == "off" else entry.previous(stage)
        title = f"Flag {entry.flag}: off" if stage == "off" else f"Flag {entry.flag} at {stage}, watch"
        steps.append(
            StepSpec(
                stage_step_id(entry.flag, stage),
                title,
                phase,
                group,
                action="ramp_stage",
                side_effect=True,
                params={
                    "flag": entry.flag,
                    "stage": stage,
                    "previous": previous,
                    "segment": entry.team_segment,
                    "watch": 0.0 if stage == "off" else entry.watch,
                },
            )
        )
    return steps


def restore_flags_step() -> StepSpec:
    """The rollback's first step when the release ramped flags: each goes back, one journaled change each."""
    return StepSpec(
        "rollback.flags", "Turn ramped flags back", Phase.ROLLING_BACK, Group.ROLLBACK, action="restore_flags", side_effect=True
    )
