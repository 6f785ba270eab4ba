"""`shipdeck ramp FLAG`: a ramp on its own, as a journal of its own, under the same lock and runner.

Production's version does not change: the journal records the version the ledger says is live
and the flag states the ramp changes. What `--to` asks is checked against the flag's
`[[flags.ramp]]` entry before the lock is taken.
"""

from __future__ import annotations

from .clock import Clock
from .config import Config, ConfigError, load_config
from .events import Event, EventKind
from .journal import Journal
from .ledger import Ledger
from .model import Group, Phase, ReleaseType, StepSpec
from .providers.flags_base import parse_stage
from .providers.wiring import is_rehearsal
from .ramp import ramp_steps
from .ramp_config import RampEntry, ramp_entries, ramp_entry
from .release_settings import settings_from_config
from .session import Options, ReleaseInProgress, Session, _journal_notes, _runner, _take_lock
from .store import Store


class RampRefused(Exception):
    """The ramp cannot start as asked; the message says why and what to do (exit 2)."""


def ramp_plan(options: Options, flag: str, to: str | None) -> tuple[RampEntry, list[StepSpec]]:
    """The flag's entry and the steps `--to` asks for. Raises RampRefused, ConfigError."""
    config = load_config(options.config_path)
    entry = ramp_entry(config, flag)
    if entry is None:
        known = ", ".join(e.flag for e in ramp_entries(config)) or "none"
        raise RampRefused(f"flag {flag!r} has no [[flags.ramp]] entry in {config.path} (flags to ramp: {known})")
    try:
        stage = parse_stage(to) if to is not None else None
        return entry, ramp_steps(entry, stage, group=Group.RELEASE_DAY, phase=Phase.WATCH)
    except ValueError as error:
        raise RampRefused(str(error)) from None


def open_ramp_session(options: Options, flag: str, to: str | None = None, clock: Clock | None = None) -> Session:
    """Take the lock and start (or resume) the ramp of `flag`.

    Raises ConfigError, LockHeld, ReleaseInProgress, RampRefused, NotConfigured.
    """
    _entry, plan = ramp_plan(options, flag, to)
    opening = _take_lock(options, clock, need_deploy=False)
    config, store, notes = opening.config, opening.store, opening.notes
    try:
        if config.provider("flags").provider == "none":
            raise ConfigError(config.path, "flags.provider", 'no flag system is configured: set [flags] provider = "unleash" or "launchdarkly"')
        active = store.active(repair=True)
        if active is not None:
            journal, events, state = active
            if state.release_type is not ReleaseType.RAMP or not any(s.spec.params.get("flag") == flag for s in state.steps):
                raise ReleaseInProgress(
                    f"{state.id} ({state.release_type.value}) is in progress; finish it first (`shipdeck resume`), "
                    "or ramp the flag as part of it"
                )
            events = events + _journal_notes(journal, notes, opening.clock)
            resumed = True
        else:
            journal, events = _start_ramp(options, store, opening.clock, opening.person, flag, plan, config)
            events = events + _journal_notes(journal, notes, opening.clock)
            resumed = False
        runner = _runner(opening, options, journal, events, ReleaseType.RAMP.value)
        return Session(config=config, options=options, store=store, lock=opening.lock, runner=runner, resumed=resumed, notes=notes)
    except BaseException:
        opening.lock.release()
        raise


def _start_ramp(options: Options, store: Store, clock: Clock, person: str, flag: str, plan: list[StepSpec], config: Config) -> tuple[Journal, list[Event]]:
    release_id = store.next_release_id(clock.now(), f"ramp-{flag}")
    journal = Journal(store.journal_path(release_id))
    journal.load()
    live = Ledger.from_store(store, config.release.tag_pattern).production() or ""
    data = {
        "id": release_id,
        "version": live,
        "tag": "",  # a ramp deploys nothing: production keeps its version
        "type": ReleaseType.RAMP.value,
        "environment": options.environment,
        "previous_tag": "",
        "branch": "",
        "captain": person,
        "plan": [step.to_dict() for step in plan],
        "series": [s.to_dict() for s in config.series],
        "watch": {"breach_for": config.watch.breach_for, "blind_after": config.watch.blind_after},
        "production_version": live,
        "settings": settings_from_config(config),
        "rehearsal": is_rehearsal(config),
    }
    return journal, [journal.append(EventKind.RELEASE_STARTED, data, clock.now())]
