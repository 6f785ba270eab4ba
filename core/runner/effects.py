"""The one idempotent side effect: journal an intent, act, journal the outcome with its result.

Cut, announcements, deploys, rollbacks, merges (and every later side effect) go through
`perform`. On resume a closed outcome *replays* its recorded result — a deploy that failed
stays failed — and an open intent is reconciled with the outside system: it happened, it did
not, or nobody can tell. Unknown is never guessed: the caller waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from ..events import EventKind
from ..model import Intent, OutcomeRecord
from ..providers.base import ProviderError, Unknown

if TYPE_CHECKING:
    from .loop import Runner


@dataclass(frozen=True)
class Effect:
    """What a side effect did: `ok` decides the step; `data` carries action-specific facts."""

    ok: bool
    summary: str
    evidence: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    replayed: bool = False  # read back from the journal, not done now

    def to_result(self) -> dict[str, Any]:
        evidence = [[str(k), str(v)] for k, v in self.evidence.items()]  # pairs keep their order
        return {"ok": self.ok, "summary": self.summary, "evidence": evidence, "data": dict(self.data)}

    @classmethod
    def from_record(cls, record: OutcomeRecord) -> Effect:
        result = record.result
        if record.status == "failed":
            return cls(False, str(result.get("summary") or result.get("error") or "failed"), replayed=True)
        return cls(
            ok=bool(result.get("ok", True)),
            summary=str(result.get("summary", "")),
            evidence=_evidence_of(result.get("evidence")),
            data=dict(result.get("data") or {}),
            replayed=True,
        )


def _evidence_of(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(pair[0]): str(pair[1]) for pair in raw if isinstance(pair, (list, tuple)) and len(pair) == 2}
    return {}


__all__ = ["Act", "Effect", "Reconcile", "Unknown", "Unresolved", "perform"]

Act = Callable[[str], Awaitable[Effect]]
# Returns the effect when it happened, None when it did not; raises Unknown (or a
# ProviderError) when the outside system cannot tell.
Reconcile = Callable[[Intent], Awaitable[Effect | None]]


@dataclass(frozen=True)
class Unresolved:
    """An open intent nobody could reconcile; the caller waits for a person with this."""

    action: str
    key: str
    detail: str


async def perform(
    runner: Runner,
    *,
    step_id: str,
    key: str,
    action: str,
    params: Mapping[str, Any],
    act: Act,
    reconcile: Reconcile | None,
) -> Effect | Unresolved:
    """Do one side effect at most once per key, across crashes.

    Args:
        step_id: the step the intent belongs to (an open intent of a production-changing step
            makes production unknown until it is resolved).
        key: idempotency key of this attempt; a closed outcome under it is replayed.
        act: does the side effect; raises ProviderError when it failed, Unknown when it
            cannot tell whether it happened (the intent then stays open).
        reconcile: asks the outside system about an intent left open by a crash; None when
            the system offers no way to ask (then the intent is unresolved).
    """
    recorded = runner.state.outcomes.get(key)
    if recorded is not None:
        return Effect.from_record(recorded)
    intent = next((i for i in runner.state.intents if i.step == step_id), None)
    if intent is not None:
        try:
            if reconcile is None:
                raise Unknown(f"{action} offers no way to ask whether it happened")
            found = await reconcile(intent)
        except (Unknown, ProviderError) as error:
            return Unresolved(action, intent.key, str(error))
        except Exception as error:  # whatever broke, what happened outside is still unknown
            return Unresolved(action, intent.key, f"{error.__class__.__name__}: {error}")
        if found is not None:
            await _outcome(runner, intent.key, "done", {**found.to_result(), "reconciled": True})
            return Effect(found.ok, found.summary, found.evidence, found.data, replayed=True)
        await _outcome(runner, intent.key, "not_done", {"reconciled": True})
    await runner.emit(EventKind.INTENT, {"key": key, "step": step_id, "action": action, "params": dict(params)})
    try:
        effect = await act(key)
    except Unknown as error:
        # The act itself cannot tell (a deploy killed at its deadline): the intent stays open,
        # so production stays unknown until a person or a later reconcile settles it.
        return Unresolved(action, key, str(error))
    except ProviderError as error:
        failed = Effect(False, str(error))
        await _outcome(runner, key, "failed", failed.to_result())
        return failed
    await _outcome(runner, key, "done", effect.to_result())
    return effect


async def _outcome(runner: Runner, key: str, status: str, result: Mapping[str, Any]) -> None:
    await runner.emit(EventKind.OUTCOME, {"key": key, "status": status, "result": dict(result)})
