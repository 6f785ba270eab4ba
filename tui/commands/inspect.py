"""`status`, `history`, `doctor`: read-only looks that start fast (no Textual, no cloud SDKs)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from shipdeck.core.config import load_config
from shipdeck.core.durations import format_duration
from shipdeck.core.lock import current_holder
from shipdeck.core.ledger import Ledger, LedgerEntry
from shipdeck.core.machine import is_terminal, phase_of, rollback_availability
from shipdeck.core.model import Release, ReleaseType, Rollback
from shipdeck.core.sanitize import plain
from shipdeck.core.store import store_for


def status_dict(state: Release, ledger: Ledger) -> dict:
    """The status of one release as JSON values; what production runs comes from the ledger."""
    available, why = rollback_availability(state)
    return {
        "release": state.id,
        "version": state.tag,
        "type": state.release_type.value,
        "environment": state.environment,
        "phase": phase_of(state).value,
        "captain": state.captain,
        "production": ledger.production(),
        "production_unknown_reason": ledger.production_unknown_reason() or None,
        "previous": state.previous_tag,
        "rollback": {"available": available, "why": why},
        "rolled_back": _rollback_fields(state.rollback),
        "steps": [
            {"id": s.id, "title": s.spec.title, "status": s.status.value, "summary": s.summary, "evidence": [list(e) for e in s.evidence]}
            for s in state.steps
            if s.spec.group.value != "rollback" or state.rollback is not None
        ],
        "series": [
            {"name": h.spec.name, "health": h.health.value, "value": h.last_value, "unit": h.spec.unit, "at": h.last_sample_at}
            for h in state.series
        ],
    }


def _rollback_fields(rollback: Rollback | None) -> dict | None:
    if rollback is None:
        return None
    return {"from": rollback.from_version, "to": rollback.target, "reason": rollback.reason, "by": rollback.requested_by, "automatic": rollback.automatic}


def production_text(ledger: Ledger) -> str:
    """What production runs, in words; "unknown (why)" when the journals cannot tell."""
    return ledger.production() or f"unknown ({ledger.production_unknown_reason()})"


def status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    ledger = Ledger.from_store(store, config.release.tag_pattern)
    found = store.active() or store.latest()
    holder = current_holder(store.lock_path)
    if found is None:
        if args.json:
            print(json.dumps({"release": None, "environment": args.environment, "production": ledger.production(),
                              "production_unknown_reason": ledger.production_unknown_reason() or None,
                              "lock": holder.describe() if holder else None}, sort_keys=True))
        else:
            print(f"no releases yet for {args.environment}")
        return 0
    state = found[2]
    data = status_dict(state, ledger)
    active = not is_terminal(state)
    data["lock"] = holder.describe() if holder else None
    data["flags"] = {flag: record.get("stage") for flag, record in ledger.flags().items()}  # flags shipdeck changed, any journal
    # A release is "running" only while a process holds its lock; otherwise it waits in its journal.
    data["running"] = active and holder is not None
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return 0
    print(f"{_headline(state)}: {data['phase']} — production runs {plain(production_text(ledger))}")
    if active and holder is None:
        print(f"captain {state.captain}; no shipdeck process is running it; `shipdeck resume` continues")
    elif active:
        print(f"captain {state.captain}; running: lock held by {holder.describe()}")
    else:
        print(f"captain {state.captain}; lock {'held by ' + data['lock'] if holder else 'free'}")
    for flag, stage in data["flags"].items():
        print(f"flag {plain(flag)}: {stage} (as shipdeck last changed it)")
    if state.rollback is not None:
        who = "automatically" if state.rollback.automatic else f"by {state.rollback.requested_by}"
        print(f"rollback to {state.rollback.target} requested {who}: {plain(state.rollback.reason)}")
    for step in data["steps"]:
        print(f"  {step['status']:<8} {step['title']:<36} {plain(step['summary'])[:80]}")
        if step["status"] in ("failed", "waiting"):  # the evidence behind a verdict that needs a person
            for label, value in step["evidence"][:12]:
                print(f"           {plain(label)}: {plain(value)[:100]}")
    for series in data["series"] if state.release_type is not ReleaseType.ROLLBACK else ():
        value = "no data" if series["value"] is None else f"{series['value']:g}{series['unit']}"
        print(f"  {series['name']:<14} {value:<12} {series['health']}")
    print(f"rollback: {'available' if data['rollback']['available'] else 'not available'} ({data['rollback']['why']})")
    return 0


def _headline(state: Release) -> str:
    if state.release_type is ReleaseType.ROLLBACK and state.rollback is not None:
        return f"rollback of {state.rollback.from_version} to {state.rollback.target} in {state.environment}"
    if state.release_type is ReleaseType.RAMP:
        flags = sorted({str(s.spec.params.get("flag")) for s in state.steps if s.spec.params.get("flag")})
        return f"ramp of {', '.join(flags)} in {state.environment}"
    return f"{state.tag} ({state.release_type.value}) to {state.environment}"


def history(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    ledger = Ledger.from_store(store, config.release.tag_pattern)
    rows = [_history_row(entry) for entry in ledger.releases()]
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        print(f"no releases yet for {args.environment}")
    for row in rows:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started"] or 0))
        version = f"{row['version']} -> {row['rollback_target']}" if row["type"] == "rollback" else row["version"]
        outcome = row["outcome"] + (" (later rolled back)" if row["rolled_back"] and row["outcome"] == "done" else "")
        reason = f" — {plain(row['rollback_reason'])}" if row["rollback_reason"] else ""
        print(f"{started}  {plain(version):<10} {row['type']:<8} {outcome:<13} {format_duration(row['duration']):>7}  {plain(row['captain'])}{reason}")
    print(f"production runs {plain(production_text(ledger))}")
    return 0


def _history_row(entry: LedgerEntry) -> dict:
    ended = entry.ended_at if entry.ended_at is not None else time.time()
    return {
        "release": entry.id,
        "version": entry.tag,
        "type": entry.release_type.value,
        "outcome": entry.phase.value,
        "captain": entry.captain,
        "started": entry.started_at,
        "ended": entry.ended_at,
        "duration": ended - (entry.started_at or ended),
        "released_healthy": entry.healthy,
        "rolled_back": entry.rolled_back,
        "rolled_back_by": entry.rolled_back_by or None,
        "rollback_reason": entry.rollback.reason if entry.rollback else "",
        "rollback_target": entry.rollback.target if entry.rollback else None,
        "production_after": entry.production_after,
    }


def doctor(args: argparse.Namespace) -> int:
    """Check config, repository, remote, state folder and every provider; never print a secret."""
    problems = 0

    def report(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'}  {what:<22} {detail}")

    config = load_config(args.config)
    report(True, "config", str(config.path))
    git_dir = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "--git-dir"], capture_output=True, text=True)
    report(git_dir.returncode == 0, "repository", str(args.repo.resolve()) if git_dir.returncode == 0 else f"{args.repo} is not a git repository")
    if git_dir.returncode == 0:
        remote = subprocess.run(
            ["git", "-C", str(args.repo), "ls-remote", "--heads", config.project.remote],
            capture_output=True, text=True, timeout=30, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
        report(remote.returncode == 0, f"remote {config.project.remote}", "reachable" if remote.returncode == 0 else plain(remote.stderr.strip())[:120])
    store = store_for(config, args.repo, "production")
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        writable = os.access(store.root, os.W_OK)
    except OSError:
        writable = False
    report(writable, "state folder", str(store.root))
    holder = current_holder(store.lock_path)
    report(True, "release lock", f"held by {holder.describe()}" if holder else "free")
    from shipdeck.core.clock import SystemClock
    from shipdeck.core.providers.wiring import check_providers

    if config.rehearsal:
        from shipdeck.core.providers.wiring import real_in_sandbox

        real = real_in_sandbox(config)
        if real:
            report(True, "demo world", f"[sandbox] config, but these providers are REAL and touch what they point at: {', '.join(real)}")
        else:
            report(True, "demo world", "[sandbox] config: simulated providers, nothing real is touched")
    if config.deploy.provider == "none":
        report(False, "deploy: none", "nothing can deploy: configure [deploy] (see README, Providers)")
    for row in check_providers(config, SystemClock(), args.repo):
        report(row.ok, row.what, plain(row.detail))
    print(f"\n{problems} problem(s)" if problems else "\nall checks passed")
    return 1 if problems else 0
