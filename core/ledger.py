"""The truth about past releases, from the journals.

Every journal of one repository and environment is folded, oldest first, into one entry per
release: what it was, how it ended, whether it was *released healthy* (its success was
announced, so the watch passed or a person waived it, and it was not rolled back, neither in
its own journal nor by a later rollback journal) and what production ran after it.

From that follow the questions git tags cannot answer: which version production runs, which
release a rollback goes back to, the lower bound of the next release's notes, and the flag
states shipdeck changed (production is the version plus those), whichever journal changed them. Tags are only a
fallback, for the time before shipdeck's records begin: the oldest journal's previous release
(which was planned from the tags) is taken as released healthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .events import Event
from .machine import fold, phase_of
from .model import Observation, Phase, Release, ReleaseType, Rollback, StepStatus
from .versioning import Version, parse_version, tag_to_version

if TYPE_CHECKING:
    from .store import Store

NEVER_DEPLOYED = "shipdeck has not deployed this product"


@dataclass(frozen=True)
class LedgerEntry:
    """One release (or rollback) journal, as the whole history sees it."""

    id: str
    tag: str
    version: str
    release_type: ReleaseType
    phase: Phase
    captain: str
    previous_tag: str
    started_at: float | None
    ended_at: float | None  # the journal's last event once it is over; None while active
    announced_healthy: bool  # `announce.success` finished and no rollback was requested
    rolled_back: bool  # in its own journal, or later by a rollback journal
    rolled_back_by: str  # id of the journal whose rollback took it out of production
    rollback: Rollback | None  # this journal's own rollback, if any
    production_after: str | None  # what production ran once this journal was folded; None: unknown
    path: Path | None = None
    observed_before: Observation | None = None  # what the deploy system reported before its deploy
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # flag -> its state after this journal, as it changed it

    @property
    def finished(self) -> bool:
        return self.phase.terminal

    @property
    def is_rollback(self) -> bool:
        """A rollback journal: rolling a finished release back, not a release of its own."""
        return self.release_type is ReleaseType.ROLLBACK

    @property
    def healthy(self) -> bool:
        """Released healthy and still standing: a rollback target, a published release."""
        return not self.is_rollback and self.announced_healthy and not self.rolled_back


class Ledger:
    """Queries over every journal of one repository and environment.

    Build it with `Ledger.from_store(store)` (or `from_journals` with events in hand).
    """

    def __init__(
        self,
        entries: Sequence[LedgerEntry],
        production: str | None,
        unknown_reason: str,
        baseline_tag: str | None,
        tag_pattern: str = "v{version}",
    ) -> None:
        self.entries: tuple[LedgerEntry, ...] = tuple(entries)
        self._flags = _latest_flags(self.entries)
        self._production = production
        self._unknown_reason = unknown_reason
        self.baseline_tag = baseline_tag  # from the tags: what ran before shipdeck's records
        self.tag_pattern = tag_pattern

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_store(cls, store: Store, tag_pattern: str = "v{version}") -> Ledger:
        """Fold every journal in `store` (read-only: torn tails are ignored, never cut).

        Raises:
            JournalCorrupt: a journal has a damaged line; what production runs cannot be known.
        """
        loaded = []
        for path in store.journals():
            _, events, _ = store.load(path)
            loaded.append((path, events))
        return cls.from_journals(loaded, tag_pattern)

    @classmethod
    def from_journals(cls, journals: Iterable[tuple[Path | None, Sequence[Event]]], tag_pattern: str = "v{version}") -> Ledger:
        """Fold journals given oldest first, as `(path, events)` pairs."""
        entries: list[LedgerEntry] = []
        production: str | None = None
        unknown_reason = NEVER_DEPLOYED
        baseline: str | None = None
        for path, events in journals:
            state = fold(events)
            if not state.started:
                continue  # killed before its first line: it never acted
            # The baseline comes from the first release: a ramp alone before it deploys nothing and
            # names no previous release, so it must not hide the tags' baseline.
            if baseline is None and state.release_type not in (ReleaseType.ROLLBACK, ReleaseType.RAMP) and not any(
                e.release_type not in (ReleaseType.ROLLBACK, ReleaseType.RAMP) for e in entries
            ):
                baseline = state.previous_tag or None
            phase = phase_of(state)
            if phase is Phase.ROLLED_BACK and state.rollback is not None:
                production = state.rollback.target
            elif state.production_unknown:
                production = None
                unknown_reason = f"the outcome of a deploy in {state.tag} ({state.id}) was never recorded"
            elif state.production_changed_at is not None:
                production = state.production_version
            entry = LedgerEntry(
                id=state.id,
                tag=state.tag,
                version=state.version,
                release_type=state.release_type,
                phase=phase,
                captain=state.captain,
                previous_tag=state.previous_tag,
                started_at=state.started_at,
                ended_at=(events[-1].at if events else state.started_at) if phase.terminal else None,
                announced_healthy=_announced_healthy(state),
                rolled_back=phase is Phase.ROLLED_BACK and state.release_type is not ReleaseType.ROLLBACK,
                rolled_back_by=state.id if phase is Phase.ROLLED_BACK and state.release_type is not ReleaseType.ROLLBACK else "",
                rollback=state.rollback,
                production_after=production,
                path=path,
                observed_before=state.observed_before,
                flags=_flags_of(state),
            )
            if entry.is_rollback and phase is Phase.ROLLED_BACK and state.rollback is not None:
                entries = _roll_back(entries, state.rollback, state.id)
            entries.append(entry)
        return cls(entries, production, unknown_reason, baseline, tag_pattern)

    # -- queries ----------------------------------------------------------------------

    def production(self) -> str | None:
        """The version production runs according to the journals; None when unknown."""
        return self._production

    def production_unknown_reason(self) -> str:
        """Why `production()` is None ("" when it is known)."""
        return "" if self._production is not None else self._unknown_reason

    def flags(self) -> dict[str, dict[str, Any]]:
        """Every flag shipdeck changed, in the state the newest journal that changed it left it.

        Each record is the flag's state read back (`stage`, `percent`, …) plus `journal`, the
        id of that journal, and `segment`, the team segment its ramp used.
        """
        return {flag: dict(record) for flag, record in self._flags.items()}

    def flags_to_turn_back(self, from_version: str) -> dict[str, dict[str, Any]]:
        """The flags changed while `from_version` ran, each with `from`: where they were before.

        "While it ran" is every journal from the release that deployed `from_version` on (later
        ramps, failed releases, a later release rolled back to it): rolling that version back
        turns them back to where its release found them. Without such a release (it ran before
        shipdeck's records), the journals since production last became it. Flags already back
        (a person's ramp, an earlier rollback that got that far) are left out.
        """
        start = next(
            (i for i in range(len(self.entries) - 1, -1, -1) if self.entries[i].tag == from_version
             and self.entries[i].release_type not in (ReleaseType.ROLLBACK, ReleaseType.RAMP) and self.entries[i].production_after == from_version),
            None,
        )
        if start is None:
            start = len(self.entries)
            while start > 0 and self.entries[start - 1].production_after == from_version:
                start -= 1
        found: dict[str, dict[str, Any]] = {}
        for entry in self.entries[start:]:
            for flag, record in entry.flags.items():
                first = found.get(flag, {}).get("from", record.get("from", ""))
                segment = record.get("segment") or found.get(flag, {}).get("segment", "")
                found[flag] = {**record, "from": first or "off", "segment": segment}
        return {flag: record for flag, record in found.items() if record.get("stage") != record["from"]}

    def releases(self) -> tuple[LedgerEntry, ...]:
        """Every journaled release and rollback, oldest first."""
        return self.entries

    def last_healthy(self, before: str | None = None) -> str | None:
        """The newest release tag released healthy (optionally older than version `before`).

        Falls back on the oldest journal's previous release (from the tags) when no journaled
        release qualifies.
        """
        healthy = self.healthy_tags(before)
        return healthy[0] if healthy else None

    def healthy_tags(self, before: str | None = None) -> list[str]:
        """Every tag released healthy and still standing, newest first (the baseline last)."""
        ceiling = self._version_of(before) if before else None
        tags = [e.tag for e in reversed(self.entries) if e.healthy and self._older(e.tag, e.version, ceiling)]
        baseline = self.baseline_tag
        if baseline and baseline not in tags and not self._taken_out(baseline) and self._older(baseline, None, ceiling):
            tags.append(baseline)
        return tags

    def restore_point(self, from_version: str, target: str) -> dict[str, str]:
        """What returns production exactly to `target` when rolling `from_version` back.

        The deploy system's restore point journaled before `from_version`'s deploy, when it
        was then running `target` (or could not say, and `target` was its previous release).
        """
        for entry in reversed(self.entries):
            if entry.is_rollback or entry.tag != from_version or entry.observed_before is None:
                continue
            seen = entry.observed_before
            if seen.restore and (seen.version == target or (seen.version is None and entry.previous_tag == target)):
                return dict(seen.restore)
            return {}
        return {}

    def finished_tags(self) -> frozenset[str]:
        """Tags of releases whose journal is over (done, rolled back, failed, aborted)."""
        return frozenset(e.tag for e in self.entries if e.finished and not e.is_rollback)

    def shipped_tags(self) -> frozenset[str]:
        """Finished releases that reached production: released healthy, or rolled back.

        A release that failed or was aborted before production changed shipped nothing: its
        work is still to be released.
        """
        return frozenset(
            e.tag for e in self.entries if e.finished and not e.is_rollback and (e.announced_healthy or e.rolled_back)
        )

    def published(self, before: str | None = None) -> tuple[LedgerEntry, ...]:
        """Releases whose notes count as published (released healthy), oldest first.

        Every commit belongs in exactly one of these releases' notes: a rolled-back release's
        commits go into the next healthy release's notes.
        """
        ceiling = self._version_of(before) if before else None
        return tuple(e for e in self.entries if e.healthy and self._older(e.tag, e.version, ceiling))

    # -- helpers ----------------------------------------------------------------------

    def _taken_out(self, tag: str) -> bool:
        """A tag a rollback journal rolled production back from."""
        return any(e.is_rollback and e.phase is Phase.ROLLED_BACK and e.rollback and e.rollback.from_version == tag for e in self.entries)

    def _version_of(self, tag_or_version: str) -> Version | None:
        for entry in self.entries:
            if tag_or_version in (entry.tag, entry.version):
                return _parse(entry.version)
        found = tag_to_version(tag_or_version, self.tag_pattern)
        return found if found is not None else _parse(tag_or_version)

    def _older(self, tag: str, version: str | None, ceiling: Version | None) -> bool:
        if ceiling is None:
            return True
        mine = _parse(version) if version else None
        if mine is None:
            mine = self._version_of(tag)
        return mine is not None and mine < ceiling


def _parse(text: str) -> Version | None:
    try:
        return parse_version(text)
    except ValueError:
        return None


def _flags_of(state: Release) -> dict[str, dict[str, Any]]:
    """The flags one journal changed, with the team segment its steps name (a turn-back needs it)."""
    flags: dict[str, dict[str, Any]] = {}
    for flag, record in state.flags.items():
        segment = next((str(s.spec.params.get("segment", "")) for s in state.steps if s.spec.params.get("flag") == flag), "")
        flags[flag] = {**record, "journal": state.id, "segment": segment or str(record.get("segment", ""))}
    return flags


def _latest_flags(entries: Sequence[LedgerEntry]) -> dict[str, Mapping[str, Any]]:
    """The newest journal's word on each flag: journals never overlap (the lock), so order decides, not clocks."""
    latest: dict[str, Mapping[str, Any]] = {}
    for entry in entries:
        latest.update(entry.flags)
    return latest


def _announced_healthy(state: Release) -> bool:
    """Its success was announced: the watch passed (or a person waived it) and no rollback began.

    A success announcement that could not be posted is skipped, not failed; the release
    behind it was still healthy.
    """
    if state.release_type is ReleaseType.ROLLBACK or state.rollback is not None:
        return False
    step = state.step("announce.success")
    return step is not None and step.status in (StepStatus.PASSED, StepStatus.SKIPPED, StepStatus.WAIVED)


def _roll_back(entries: list[LedgerEntry], rollback: Rollback, by: str) -> list[LedgerEntry]:
    """A finished rollback journal took every release deployed after its target out of production."""
    target_index = max((i for i, e in enumerate(entries) if e.tag == rollback.target and e.healthy), default=-1)
    updated = []
    for index, entry in enumerate(entries):
        pulled = entry.tag == rollback.from_version or (index > target_index and entry.healthy)
        if pulled and not entry.is_rollback and not entry.rolled_back:
            entry = replace(entry, rolled_back=True, rolled_back_by=by)
        updated.append(entry)
    return updated
