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
from shipdeck.core.machine import phase_of, rollback_availability
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain
from shipdeck.core.store import store_for


def status_dict(state: Release) -> dict:
    available, why = rollback_availability(state)
    return {
        "release": state.id,
        "version": state.tag,
        "type": state.release_type.value,
        "environment": state.environment,
        "phase": phase_of(state).value,
        "captain": state.captain,
        "production": state.production_version,
        "previous": state.previous_tag,
        "rollback": {"available": available, "why": why},
        "steps": [
            {"id": s.id, "title": s.spec.title, "status": s.status.value, "summary": s.summary}
            for s in state.steps
            if s.spec.group.value != "rollback" or state.rollback is not None
        ],
        "series": [
            {"name": h.spec.name, "health": h.health.value, "value": h.last_value, "unit": h.spec.unit, "at": h.last_sample_at}
            for h in state.series
        ],
    }


def status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    found = store.active() or store.latest()
    if found is None:
        if args.json:
            print(json.dumps({"release": None, "environment": args.environment}))
        else:
            print(f"no releases yet for {args.environment}")
        return 0
    state = found[2]
    data = status_dict(state)
    holder = current_holder(store.lock_path)
    data["lock"] = holder.describe() if holder else None
    if args.json:
        print(json.dumps(data, sort_keys=True))
        return 0
    print(f"{state.tag} ({data['type']}) to {state.environment}: {data['phase']} — production runs {state.production_version or 'unknown'}")
    print(f"captain {state.captain}; lock {'held by ' + data['lock'] if holder else 'free'}")
    for step in data["steps"]:
        print(f"  {step['status']:<8} {step['title']:<36} {plain(step['summary'])[:80]}")
    for series in data["series"]:
        value = "no data" if series["value"] is None else f"{series['value']:g}{series['unit']}"
        print(f"  {series['name']:<14} {value:<12} {series['health']}")
    print(f"rollback: {'available' if data['rollback']['available'] else 'not available'} ({data['rollback']['why']})")
    return 0


def history(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    store = store_for(config, args.repo, args.environment)
    rows = []
    for path in store.journals():
        _, events, state = store.load(path)
        if not state.started:
            continue
        ended = events[-1].at if events else state.started_at
        rows.append(
            {
                "release": state.id,
                "version": state.tag,
                "type": state.release_type.value,
                "outcome": phase_of(state).value,
                "captain": state.captain,
                "started": state.started_at,
                "duration": (ended or 0) - (state.started_at or 0),
                "rollback_reason": state.rollback.reason if state.rollback else "",
            }
        )
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        print(f"no releases yet for {args.environment}")
    for row in rows:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["started"] or 0))
        reason = f" — {plain(row['rollback_reason'])}" if row["rollback_reason"] else ""
        print(f"{started}  {row['version']:<10} {row['type']:<8} {row['outcome']:<15} {format_duration(row['duration']):>7}  {row['captain']}{reason}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    """Check config, repository, remote, state folder and every provider; never print a secret."""
    from shipdeck.core.providers.factory import KNOWN, LATER

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
    for section, provider in (("image", config.image), ("deploy", config.deploy), ("metrics", config.metrics), ("smoke", config.smoke), ("notify", config.notify)):
        name = provider.provider
        if name not in KNOWN[section]:
            report(False, section, f"unknown provider {name!r}")
        elif (section, name) in LATER:
            report(False, section, f"{name}: {LATER[(section, name)]} is not available in this version yet")
        else:
            report(True, section, name)
        for key, value in provider.settings.items():
            if key.endswith("_env") and isinstance(value, str):
                present = bool(os.environ.get(value))
                report(present, f"{section}.{key}", f"{value} is {'set' if present else 'not set'}")
    print(f"\n{problems} problem(s)" if problems else "\nall checks passed")
    return 1 if problems else 0
