"""The ramp steps: move a flag to a stage (one journaled side effect), watch it, act on a breach.

A stage's move goes through `ctx.perform`: the intent (flag, stage) is journaled before any
write, the outcome carries the state read back after it, and a resume reconciles an open
intent by reading the flag (at the stage: it happened; not: move it, which writes only what is
still missing). Every move is followed by `flag_changed`, so production is the version plus
the flag states shipdeck changed. A sustained breach during a stage's watch moves the flag back
to the previous stage in --auto (a second journaled change) or waits for a person. Every
change of stage puts a flag change marker where the metrics live (once, journaled; a marker
that cannot be posted is a note, never a stop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import EventKind
from ..model import Intent
from ..providers.base import ProviderError
from ..providers.flags_base import FlagBackend, FlagState
from ..ramp import move_flag
from ..watching import breached_series, describe_breach
from .announcing import post_once
from .effects import Effect, Unresolved, perform
from .steps import handler
from .watch_step import observe

if TYPE_CHECKING:
    from .context import StepContext
    from .loop import Runner


def _backend(ctx: StepContext) -> FlagBackend | None:
    return ctx.services.flags


async def _move(ctx: StepContext, backend: FlagBackend, flag: str, stage: str, segment: str, key: str) -> Effect | None:
    """Move the flag once per key, across crashes; journal what it reads back. None: waiting."""

    async def act(_key: str) -> Effect:
        move = await move_flag(backend, flag, stage, segment)
        return _effect(flag, stage, move.before, move.after, move.writes)

    async def reconcile(intent: Intent) -> Effect | None:
        state = await backend.read(flag)
        if state.stage != stage:
            return None  # not (or not wholly) done: moving again writes only what is missing
        return _effect(flag, stage, None, state, 0, came_from=str(intent.params.get("from", "")))

    params: dict[str, Any] = {"flag": flag, "stage": stage}
    if key not in ctx.state.outcomes and not any(i.step == ctx.step_id for i in ctx.state.intents):
        try:
            params["from"] = (await backend.read(flag)).stage  # journaled with the intent: where a rollback returns it
        except ProviderError:
            pass  # the move itself will say what is wrong
    result = await perform(ctx.runner, step_id=ctx.step_id, key=key, action="flag_change", params=params, act=act, reconcile=reconcile)
    effect = await ctx.resolved(result)
    if effect is None:
        return None
    after = effect.data.get("after")
    if effect.ok and isinstance(after, dict):
        recorded = ctx.state.flags.get(flag, {})
        if recorded.get("version") != after.get("version") or recorded.get("stage") != stage:
            await ctx.emit(
                EventKind.FLAG_CHANGED,
                {"flag": flag, "stage": stage, "state": after, "step": ctx.step_id, "from": effect.data.get("from", "")},
            )
    return effect


def _effect(flag: str, stage: str, before: FlagState | None, after: FlagState, writes: int, came_from: str = "") -> Effect:
    came_from = before.stage if before is not None else came_from
    summary = f"{flag} at {stage}" + (f" (was {came_from}, {writes} change{'s' if writes != 1 else ''})" if before is not None else " (found so after a restart)")
    data: dict[str, Any] = {"after": after.to_json(), "writes": writes, "from": came_from}
    return Effect(True, summary, {"flag": flag, "stage": stage, "version": after.version}, data)


async def mark_flag_change(runner: Runner, step_id: str, key: str, flag: str, from_stage: str, to_stage: str) -> None:
    """A flag change marker where the metrics live (Datadog: an event), posted once; never blocking.

    The marker's time is journaled with its intent, so a repost after a crash carries the same
    id (the event's aggregation key) rather than a second one.
    """
    mark = getattr(runner.services.metrics, "mark_flag", None)
    if mark is None or from_stage == to_stage:
        return
    state = runner.state
    version = state.production_version or state.tag
    open_intent = next((i for i in state.intents if i.key == key), None)
    at = float(open_intent.params.get("at", open_intent.at)) if open_intent is not None else runner.clock.now()

    async def act(_key: str) -> Effect:
        warnings = await mark(flag, from_stage, to_stage, version, at)
        return Effect(not warnings, "; ".join(warnings) or f"flag marker for {flag} {from_stage} → {to_stage} posted")

    async def reconcile(intent: Intent) -> Effect | None:
        return None  # the marker's id is stable: posting it again is grouped with the first

    params = {"flag": flag, "from": from_stage, "to": to_stage, "version": version, "at": at}
    result = await perform(runner, step_id=f"{step_id}.marker", key=key, action="mark", params=params, act=act, reconcile=reconcile)
    if isinstance(result, Effect) and not result.ok and not result.replayed:
        await runner.emit(EventKind.NOTE, {"message": f"flag marker: {result.summary}"})


async def _mark(ctx: StepContext, moved: Effect, flag: str, stage: str, key: str) -> None:
    await mark_flag_change(ctx.runner, ctx.step_id, f"{key}:marker", flag, str(moved.data.get("from") or "off"), stage)


async def _tell(ctx: StepContext, text: str, suffix: str) -> None:
    """Announce a flag move once (journaled like every post); a post that fails never blocks the ramp."""
    result = await post_once(ctx.runner, step_id=ctx.step_id, key=f"{ctx.key}:{suffix}", channel=ctx.setting("announce_channel"), text=text)
    if isinstance(result, Unresolved) or not result.ok:
        await ctx.progress(f"not announced: {result.detail if isinstance(result, Unresolved) else result.summary}")


@handler("ramp_stage")
async def ramp_stage(ctx: StepContext) -> None:
    params = ctx.step.spec.params
    flag, stage, previous = str(params["flag"]), str(params["stage"]), str(params.get("previous", "off"))
    segment, duration = str(params.get("segment", "")), float(params.get("watch", 0.0))
    backend = _backend(ctx)
    if backend is None:
        await ctx.waiting(f"no [flags] provider is configured: move {flag} to {stage} by hand, then `shipdeck approve {ctx.step_id}`")
        return
    moved = await _move(ctx, backend, flag, stage, segment, ctx.key)
    if moved is None:
        return
    if not moved.ok:
        await ctx.failed(moved.summary, moved.evidence)
        return
    await _mark(ctx, moved, flag, stage, ctx.key)
    await _tell(ctx, f"{flag} is at {stage} in {ctx.state.environment}", "post")
    if duration <= 0:
        await ctx.passed(moved.summary, moved.evidence)
        return
    verdict = await observe(ctx, duration, stop_on_breach=True)
    if verdict is None:
        return
    breaches = breached_series(ctx.state)
    if verdict.healthy and not breaches:
        await ctx.passed(f"{moved.summary}; {verdict.text}", verdict.evidence)
        return
    if not breaches:
        await ctx.waiting(f"{flag} at {stage}: {verdict.text}", verdict.evidence)
        return
    text = "; ".join(describe_breach(h) for h in breaches)
    if not ctx.runner.policy.auto:
        await ctx.waiting(
            f"sustained breach at {flag} {stage}: {text}. Move it back with `shipdeck ramp {flag} --to {previous}` "
            f"(or the cockpit's guarded flag control), or `shipdeck approve {ctx.step_id}` to keep it",
            verdict.evidence,
        )
        return
    back = await _move(ctx, backend, flag, previous, segment, f"{ctx.key}:back")
    if back is None:
        return
    if not back.ok:
        await ctx.failed(
            f"sustained breach at {stage} ({text}) and moving {flag} back to {previous} failed: {back.summary}",
            {"breach": text, "flag": flag, "now": stage},
        )
        return
    await _mark(ctx, back, flag, previous, f"{ctx.key}:back")
    await _tell(ctx, f"{flag} moved back from {stage} to {previous} in {ctx.state.environment}: sustained breach, {text}", "post-back")
    await ctx.failed(f"sustained breach at {stage}: {text}; {flag} moved back to {previous}", {"breach": text, "flag": flag, "now": previous})


@handler("restore_flags")
async def restore_flags(ctx: StepContext) -> None:
    """Before a rollback redeploys: every flag this release moved goes back where it was, one change each."""
    changed = {flag: record for flag, record in ctx.state.flags.items()}
    if not changed:
        await ctx.skipped("this release changed no flag")
        return
    backend = _backend(ctx)
    if backend is None:
        await ctx.waiting(f"flags {', '.join(changed)} were ramped but no [flags] provider is configured now: turn them back by hand")
        return
    done = []
    for flag, record in sorted(changed.items()):
        target = str(record.get("from") or "off")
        if record.get("stage") == target:
            continue
        segment = _segment_of(ctx, flag)
        effect = await _move(ctx, backend, flag, target, segment, f"{ctx.key}:{flag}")
        if effect is None:
            return
        if not effect.ok:
            await ctx.failed(f"{flag} could not be turned back to {target}: {effect.summary}")
            return
        await _mark(ctx, effect, flag, target, f"{ctx.key}:{flag}")
        done.append(f"{flag} → {target}")
    await ctx.passed("flags turned back: " + (", ".join(done) or "already back"))


def _segment_of(ctx: StepContext, flag: str) -> str:
    for step in ctx.state.steps:
        if step.spec.params.get("flag") == flag:
            return str(step.spec.params.get("segment", ""))
    return str(ctx.state.flags.get(flag, {}).get("segment", ""))  # a rollback journal: carried from the ramp


FLAG_OFF_STEP = "flags.off"  # the intent of a person's "flag off" (not a plan step: it may come at any time)


async def flag_off(runner: Runner, flag: str, by: str, reason: str) -> str | None:
    """A person's guarded "flag off": one journaled change, then the flag's remaining stages are skipped.

    Returns a refusal (the flag system could not be reached or did not turn it off), or None.
    """
    backend = runner.services.flags
    if backend is None:
        return "no [flags] provider is configured: turn the flag off in the flag system by hand"
    prefix = f"{runner.state.id}:flag-off:{flag}:"
    attempt = sum(1 for key in runner.state.outcomes if key.startswith(prefix))

    async def act(_key: str) -> Effect:
        move = await move_flag(backend, flag, "off", "")
        return _effect(flag, "off", move.before, move.after, move.writes)

    async def reconcile(intent: Intent) -> Effect | None:
        state = await backend.read(str(intent.params.get("flag", flag)))
        return _effect(flag, "off", None, state, 0) if state.stage == "off" else None

    result = await perform(
        runner, step_id=FLAG_OFF_STEP, key=f"{prefix}{attempt}", action="flag_change", params={"flag": flag, "stage": "off", "by": by},
        act=act, reconcile=reconcile,
    )
    if isinstance(result, Unresolved):
        return f"cannot tell whether {flag} was turned off: {result.detail}; check the flag system"
    if not result.ok:
        return f"{flag} was not turned off: {result.summary}"
    after = result.data.get("after")
    if isinstance(after, dict):
        await runner.emit(EventKind.FLAG_CHANGED, {"flag": flag, "stage": "off", "state": after, "step": FLAG_OFF_STEP, "by": by})
    await mark_flag_change(runner, FLAG_OFF_STEP, f"{runner.state.id}:flag-off-marker:{flag}:{attempt}", flag, str(result.data.get("from") or "off"), "off")
    for step in runner.state.steps:
        if step.spec.action == "ramp_stage" and step.spec.params.get("flag") == flag and not step.status.finished:
            why = f"{flag} turned off by {by}" + (f": {reason}" if reason else "")
            await runner.emit(EventKind.STEP_SKIPPED, {"step": step.id, "reason": why})
    return None
