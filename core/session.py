"""Wiring for one run: config → store → lock → journal → providers → runner.

The headless CLI and the cockpit both open a release through here, so they are two views of
one runner and cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .clock import Clock, SystemClock
from .commands import Authority
from .config import Config, ConfigError, load_config, resolve_environment
from .events import Event, EventKind
from .journal import Journal
from .lock import ReleaseLock
from .decisions import Policy
from .model import ReleaseType
from .plan import build_plan
from .runner import Runner
from .store import NoActiveRelease, ReleaseInProgress, Store, identity, store_for

__all__ = ["NoActiveRelease", "ReleaseInProgress", "Options", "Session", "authority_for", "open_session", "store_for"]


@dataclass(frozen=True)
class Options:
    config_path: Path
    repo_path: Path
    environment: str = "production"
    release_type: str = "regular"
    version: str | None = None
    auto: bool = False
    assume_yes: bool = False
    force: bool = False
    interactive: bool = False
    resume_only: bool = False
    command_name: str = "release"


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


def open_session(options: Options, clock: Clock | None = None) -> Session:
    """Take the lock and open the active release, or start a new one.

    Raises ConfigError, LockHeld, NoActiveRelease, NotConfigured, GitReleaseError.
    """
    from .providers.factory import build_services

    clock = clock or SystemClock()
    config = load_config(options.config_path)
    resolve_environment(config, options.environment)
    store = store_for(config, options.repo_path, options.environment)
    person = identity()
    lock = ReleaseLock(store.lock_path, person, command=options.command_name)
    lock.acquire()
    try:
        services = build_services(config, options.repo_path, clock)
        notes: list[str] = []
        if lock.previous is not None:
            notes.append(f"took over the release lock from {lock.previous.describe()}, which is no longer running")
        active = store.active(repair=True)
        if active is not None:
            journal, events, state = active
            _refuse_a_different_release(options, state)
            resumed = True
            if journal.truncated_bytes:
                notes.append(f"cut a torn last line ({journal.truncated_bytes} bytes) from {journal.path}")
            release_type = state.release_type.value
        else:
            if options.resume_only:
                raise NoActiveRelease(f"no active release for {options.environment} in {store.root}; start one with `shipdeck release`")
            journal, events, release_type = _start(config, options, store, services, clock, person)
            resumed = False
        policy = Policy(
            auto=options.auto,
            assume_yes=options.assume_yes,
            identity=person,
            roles=config.roles,
            # The hotfix fast-track: optional steps (the staging soak) are skipped and journaled so.
            skip_optional=release_type == "hotfix",
        )
        runner = Runner(
            journal=journal,
            events=events,
            config=config,
            services=services,
            policy=policy,
            authority=authority_for(config, release_type),
            clock=clock,
            interactive=options.interactive,
            force=options.force,
            inbox=store.inbox,
            notes_path=store.notes_path(_release_id(events)),
        )
        return Session(config=config, options=options, store=store, lock=lock, runner=runner, resumed=resumed, notes=notes)
    except BaseException:
        lock.release()
        raise


def _refuse_a_different_release(options: Options, state) -> None:
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


def _start(config: Config, options: Options, store: Store, services, clock: Clock, person: str):
    try:
        release_type = ReleaseType(options.release_type)
    except ValueError:
        raise ConfigError(config.path, "", f"unknown release type {options.release_type!r}; use regular, hotfix or major") from None
    if services.git is None:
        raise ConfigError(config.path, "project", f"{options.repo_path} is not a git repository; pass --repo")
    today = datetime.fromtimestamp(clock.now()).date()
    git_plan = services.git.plan_release(release_type.value, options.version, today)
    release_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(clock.now()))}-{git_plan.tag}"
    plan = build_plan(release_type, config)
    journal = Journal(store.journal_path(release_id))
    journal.load()
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
        "production_version": git_plan.previous_tag or "",
        "settings": {
            "git": dataclasses.asdict(git_plan),
            "deploy_window": config.watch.deploy_window,
            "post_release": config.watch.post_release,
            "metrics_interval": config.metrics_interval,
        },
    }
    event = journal.append(EventKind.RELEASE_STARTED, data, clock.now())
    return journal, [event], release_type.value
