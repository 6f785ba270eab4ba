"""Wiring for one run: config → store → lock → journal → providers → runner.

The headless CLI and the cockpit both open a release through here, so they are two views of
one runner and cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from .clock import Clock, SystemClock
from .commands import Authority
from .config import Config, ConfigError, load_config, resolve_environment
from .events import Event, EventKind
from .journal import Journal
from .decisions import Policy
from .ledger import Ledger
from .lock import Holder, ReleaseLock
from .machine import phase_of
from .model import Release, ReleaseType
from .options import Options
from .plan import build_plan, rollback_plan
from .providers.wiring import is_rehearsal
from .release_settings import describe_changes, settings_from_config
from .runner import Runner, Services
from .store import NoActiveRelease, ReleaseInProgress, Store, identity, store_for
from .versioning import tag_to_version, version_to_tag

__all__ = [
    "NoActiveRelease",
    "ReleaseInProgress",
    "RollbackRefused",
    "Options",
    "Session",
    "authority_for",
    "open_rollback_session",
    "open_session",
    "refuse_a_different_release",
    "store_for",
]


@dataclass
class Session:
    config: Config
    options: Options
    store: Store
    lock: ReleaseLock
    runner: Runner
    resumed: bool
    notes: list[str] = field(default_factory=list)  # things to tell the captain on start

    def close(self) -> None:
        self.runner.journal.close()
        self.lock.release()


def authority_for(config: Config, release_type: str) -> Authority:
    rule = config.approval_rule(release_type)
    return Authority(roles=config.roles, approving_roles=rule.roles, rollback_roles=config.release.rollback_roles)


@dataclass
class _Opening:
    """What every run has once it holds the lock: config, store, providers, first notes."""

    config: Config
    store: Store
    person: str
    lock: ReleaseLock
    services: Any
    clock: Clock
    notes: list[str]
    removed: list[Path]  # journals of runs killed before their first line


def _take_lock(options: Options, clock: Clock | None, need_deploy: bool = True) -> _Opening:
    """Load the config, take the lock, build the providers and clean up after a dead run.

    `need_deploy` False: a run that deploys nothing (a flag ramp) needs no deployer.
    """
    from .providers.wiring import build_services

    config = load_config(options.config_path)
    resolve_environment(config, options.environment)
    store = store_for(config, options.repo_path, options.environment)
    person = identity()
    lock = store.lease(person, command=options.command_name)
    holder = lock.holder
    assert holder is not None  # a lease just taken has its holder
    try:
        clock = clock or SystemClock()
        active = store.active()
        if active is not None and active[2].release_type is ReleaseType.RAMP:
            need_deploy = False  # resuming or approving a flag ramp: it deploys nothing
        services = build_services(config, options.repo_path, clock, environment=options.environment, need_deploy=need_deploy)
        notes = _takeover_notes(lock, holder, services)
        removed = store.remove_unstarted()
        return _Opening(config, store, person, lock, services, clock, notes, removed)
    except BaseException:
        lock.release()
        raise


def open_session(options: Options, clock: Clock | None = None) -> Session:
    """Take the lock and open the active release, or start a new one.

    Raises ConfigError, LockHeld, NoActiveRelease, NotConfigured, GitReleaseError.
    """
    opening = _take_lock(options, clock)
    config, store, notes, clock = opening.config, opening.store, opening.notes, opening.clock
    try:
        active = store.active(repair=True)
        if active is not None:
            journal, events, state = active
            refuse_a_different_release(options, state)
            resumed = True
            if journal.truncated_bytes:
                notes.append(f"cut a torn last line ({journal.truncated_bytes} bytes) from {journal.path}")
            notes += _settings_notes(state, config)
            events = events + _journal_notes(journal, notes, clock)
            release_type = state.release_type.value
        else:
            if options.resume_only:
                raise NoActiveRelease(_nothing_to_resume(options, store, opening.removed, opening.lock))
            journal, events, release_type = _start(config, options, store, opening.services, clock, opening.person)
            events = events + _journal_notes(journal, notes, clock)
            resumed = False
        runner = _runner(opening, options, journal, events, release_type)
        return Session(config=config, options=options, store=store, lock=opening.lock, runner=runner, resumed=resumed, notes=notes)
    except BaseException:
        opening.lock.release()
        raise


class RollbackRefused(Exception):
    """A rollback of the live version cannot start; the message says why and what to do."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage  # the request itself was wrong (exit 2), not the situation (exit 1)


def open_rollback_session(options: Options, reason: str, target: str | None = None, clock: Clock | None = None) -> Session:
    """Roll the live version back to the last healthy release before it, as a journal of its own.

    For when no release is active (a release in progress has its own rollback). What
    production runs and what it goes back to come from the journals, never from tags.

    Raises ConfigError, LockHeld, ReleaseInProgress, RollbackRefused, NotConfigured.
    """
    opening = _take_lock(options, clock)
    config, store, person, notes, clock = opening.config, opening.store, opening.person, opening.notes, opening.clock
    try:
        active = store.active(repair=True)
        if active is not None:
            state = active[2]
            raise ReleaseInProgress(
                f"{state.tag} ({state.release_type.value}) is in progress ({phase_of(state).value}); its own rollback "
                "applies: `shipdeck rollback --reason …` while it runs, or `shipdeck resume` to continue it"
            )
        authority = authority_for(config, ReleaseType.ROLLBACK.value)
        if not authority.may(person, authority.rollback_roles):
            raise RollbackRefused(f"{person} may not roll back (roles allowed: {', '.join(authority.rollback_roles)})")
        if not reason.strip():
            raise RollbackRefused("a rollback needs a reason (it is announced: \"Rolled back to … due to …\")", usage=True)
        ledger = Ledger.from_store(store, config.release.tag_pattern)
        from_version = ledger.production()
        if from_version is None:
            raise RollbackRefused(
                f"what {options.environment} runs is unknown: {ledger.production_unknown_reason()}. shipdeck rolls back "
                "only from a version it knows is live. Check what production runs, then roll back with your deploy "
                "system by hand (shipdeck records only what it deployed)"
            )
        chosen = _rollback_target(ledger, config, from_version, target)
        restore = ledger.restore_point(from_version, chosen)
        flags = ledger.flags_to_turn_back(from_version)
        journal, events = _start_rollback(config, options, store, clock, person, from_version, chosen, reason, restore, flags)
        events = events + _journal_notes(journal, notes, clock)
        headless = dataclasses.replace(options, auto=True, interactive=False, assume_yes=False)
        runner = _runner(opening, headless, journal, events, ReleaseType.ROLLBACK.value)
        return Session(config=config, options=options, store=store, lock=opening.lock, runner=runner, resumed=False, notes=notes)
    except BaseException:
        opening.lock.release()
        raise


def _rollback_target(ledger: Ledger, config: Config, from_version: str, asked: str | None) -> str:
    """`--to` when it names a healthy release older than the live one, else the last such release."""
    default = ledger.last_healthy(before=from_version)
    if asked:
        wanted = asked.strip()
        if tag_to_version(wanted, config.release.tag_pattern) is None:
            try:
                wanted = version_to_tag(wanted, config.release.tag_pattern)
            except ValueError:
                raise RollbackRefused(f"--to {asked!r} is not a release version (like {default or 'v1.3.0'})", usage=True) from None
        candidates = ledger.healthy_tags(before=from_version)
        if wanted in candidates:
            return wanted
        choices = ", ".join(candidates) or "none"
        raise RollbackRefused(
            f"--to {asked}: not a release that was released healthy before {from_version} according to the "
            f"journals; healthy releases before it: {choices}",
            usage=True,
        )
    if default is None:
        raise RollbackRefused(
            f"production runs {from_version} and no release before it was released healthy according to the journals; "
            "there is nothing to roll back to. Fix forward with a hotfix: `shipdeck release --type hotfix`"
        )
    return default


def _start_rollback(
    config: Config,
    options: Options,
    store: Store,
    clock: Clock,
    person: str,
    from_version: str,
    target: str,
    reason: str,
    restore: Mapping[str, str],
    flags: Mapping[str, Mapping[str, Any]],
) -> tuple[Journal, list[Event]]:
    """The rollback journal's first line; `flags` (from the ledger) are turned back before the redeploy."""
    release_id = store.next_release_id(clock.now(), f"{from_version}-rollback")
    journal = store.journal(release_id)
    version = tag_to_version(from_version, config.release.tag_pattern)
    data = {
        "id": release_id,
        "version": str(version) if version is not None else from_version.lstrip("v"),
        "tag": from_version,
        "type": ReleaseType.ROLLBACK.value,
        "environment": options.environment,
        "previous_tag": target,
        "branch": "",
        "captain": person,
        "plan": [step.to_dict() for step in rollback_plan(flags=bool(flags))],
        "flags": {flag: dict(record) for flag, record in flags.items()},
        "series": [s.to_dict() for s in config.series],
        "watch": {"breach_for": config.watch.breach_for, "blind_after": config.watch.blind_after},
        "production_version": from_version,
        "settings": settings_from_config(config),
        "rehearsal": is_rehearsal(config),
        "rollback": {
            "by": person,
            "reason": reason,
            "target": target,
            "from_version": from_version,
            "automatic": False,
            "restore": dict(restore),
        },
    }
    return journal, [journal.append(EventKind.RELEASE_STARTED, data, clock.now())]


def _runner(opening: _Opening, options: Options, journal: Journal, events: list[Event], release_type: str) -> Runner:
    config = opening.config
    policy = Policy(
        auto=options.auto,
        assume_yes=options.assume_yes,
        identity=opening.person,
        roles=config.roles,
        # The hotfix fast-track: optional steps (the staging soak) are skipped and journaled so.
        skip_optional=release_type == "hotfix",
    )
    return Runner(
        journal=journal,
        events=events,
        config=config,
        services=opening.services,
        policy=policy,
        authority=authority_for(config, release_type),
        clock=opening.clock,
        interactive=options.interactive,
        force=options.force,
        inbox=opening.store.inbox,
        notes_path=opening.store.notes_path(_release_id(events)),
    )


def _takeover_notes(lock: ReleaseLock, holder: Holder, services: Services) -> list[str]:
    """What taking over a dead holder's lock found, and the git lock files it cleared."""
    if lock.previous is None:
        return []
    notes = [f"took over the release lock from {lock.previous.describe()}, which is no longer running"]
    git = services.git
    if git is None:
        return notes
    from .providers.git import GitReleaseError

    try:
        # Only lock files older than our takeover: a dead run's, never a live git's.
        removed = list(git.clear_stale_locks(older_than=holder.since) or ())
    except (OSError, GitReleaseError) as error:
        notes.append(f"could not clear the git lock files the dead run may have left: {error}")
        return notes
    if removed:
        notes.append(f"removed {len(removed)} stale git lock file(s) the dead run left: {', '.join(str(r) for r in removed)}")
    return notes


def _journal_notes(journal: Journal, notes: list[str], clock: Clock) -> list[Event]:
    """Journal what this run found on start, so the evidence outlives the terminal."""
    return [journal.append(EventKind.NOTE, {"message": note}, clock.now()) for note in notes]


def _settings_notes(state: Release, config: Config) -> list[str]:
    changes = describe_changes(state.settings, settings_from_config(config))
    return [f"config changed since {state.tag} started: {change}; this release keeps the settings it started with" for change in changes]


def _nothing_to_resume(options: Options, store: Store, removed: list[Path], lock: ReleaseLock) -> str:
    if removed:
        who = f" ({lock.previous.describe()})" if lock.previous is not None else ""
        return (
            f"the previous run{who} was stopped before it journaled anything, so there is nothing to resume "
            f"(its empty journal {removed[-1].name} was removed). Run `shipdeck release` again to start the release"
        )
    return f"no active release for {options.environment} in {store.root}; start one with `shipdeck release`"


def refuse_a_different_release(options: Options, state: Release) -> None:
    """`shipdeck release` with an active release resumes it, unless it asked for another one."""
    if options.resume_only:
        return
    asked_type = options.release_type != state.release_type.value
    asked_version = options.version is not None and options.version.lstrip("v") != state.version
    if asked_type or asked_version:
        wanted = f"{options.release_type} {options.version or ''}".strip()
        raise ReleaseInProgress(
            f"{state.tag} ({state.release_type.value}) is already in progress for {state.environment}; "
            f"it must finish, roll back or be aborted before a {wanted} release can start. "
            "`shipdeck resume` continues it; `shipdeck status` shows where it stands."
        )


def _release_id(events: list[Event]) -> str:
    return str(events[0].data["id"]) if events else "unknown"


def _start(config: Config, options: Options, store: Store, services: Services, clock: Clock, person: str) -> tuple[Journal, list[Event], str]:
    try:
        release_type = ReleaseType(options.release_type)
    except ValueError:
        raise ConfigError(config.path, "", f"unknown release type {options.release_type!r}; use regular, hotfix or major") from None
    if release_type is ReleaseType.ROLLBACK:
        raise ConfigError(config.path, "", "a rollback is not started as a release; use `shipdeck rollback --reason …`")
    if services.git is None:
        raise ConfigError(config.path, "project", f"{options.repo_path} is not a git repository; pass --repo")
    ledger = Ledger.from_store(store, config.release.tag_pattern)
    today = datetime.fromtimestamp(clock.now()).date()
    # The previous release is the last one released healthy; finished tags are never reused.
    git_plan = services.git.plan_release(
        release_type.value,
        options.version,
        today,
        last_released=ledger.last_healthy(),
        finished_tags=ledger.finished_tags(),
        shipped_tags=ledger.shipped_tags(),
    )
    release_id = store.next_release_id(clock.now(), git_plan.tag)
    plan = build_plan(release_type, config)
    journal = store.journal(release_id)
    data = {
        "id": release_id,
        "version": git_plan.version,
        "tag": git_plan.tag,
        "type": release_type.value,
        "environment": options.environment,
        "previous_tag": git_plan.previous_tag or "",
        "branch": git_plan.branch,
        "captain": person,
        "plan": [step.to_dict() for step in plan],
        "series": [s.to_dict() for s in config.series],
        "watch": {"breach_for": config.watch.breach_for, "blind_after": config.watch.blind_after},
        # What the journals say production runs; "" when they do not know (never a tag's guess).
        "production_version": ledger.production() or "",
        "settings": {"git": dataclasses.asdict(git_plan), **settings_from_config(config)},
        "rehearsal": is_rehearsal(config),
    }
    event = journal.append(EventKind.RELEASE_STARTED, data, clock.now())
    return journal, [event], release_type.value
