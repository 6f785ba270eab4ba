"""The headless view: one readable line (or one JSON object) per event on stdout.

Diagnostics go to stderr; stdout carries only event lines so `--json` output can be piped
into `jq` line by line.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from shipdeck.core.durations import format_duration
from shipdeck.core.events import Event, EventKind
from shipdeck.core.machine import phase_of
from shipdeck.core.model import Release
from shipdeck.core.sanitize import plain

from .pipes import stdout_to_devnull


def describe(event: Event, state: Release) -> str:
    """One human line for an event (untrusted text made plain)."""
    data = event.data
    kind = event.kind
    step = state.step(str(data.get("step", ""))) if "step" in data else None
    title = step.spec.title if step else str(data.get("step", ""))
    if kind is EventKind.RELEASE_STARTED:
        text = f"release {data.get('tag')} ({data.get('type')}) to {data.get('environment')}; previous {data.get('previous_tag') or 'none'}; captain {data.get('captain')}"
    elif kind is EventKind.STEP_STARTED:
        text = f"{title}: started"
    elif kind is EventKind.STEP_PROGRESSED:
        text = f"{title}: {data.get('message', '')}"
    elif kind is EventKind.STEP_WAITING:
        text = f"{title}: WAITING — {data.get('reason', '')}"
    elif kind is EventKind.STEP_PASSED:
        text = f"{title}: passed — {data.get('summary', '')}"
    elif kind is EventKind.STEP_FAILED:
        text = f"{title}: FAILED — {data.get('summary', '')}"
    elif kind is EventKind.STEP_SKIPPED:
        text = f"{title}: skipped — {data.get('reason', '')}"
    elif kind is EventKind.STEP_WAIVED:
        text = f"{title}: waived by {data.get('by')} — {data.get('reason', '')}"
    elif kind is EventKind.STEP_RETRIED:
        text = f"{title}: retry ({data.get('by')})"
    elif kind is EventKind.APPROVAL_GRANTED:
        text = f"{title}: approved by {data.get('by')} as {data.get('role') or 'approver'}"
    elif kind is EventKind.INTENT:
        text = f"{title}: about to {data.get('action')} (key {data.get('key')})"
    elif kind is EventKind.OUTCOME:
        text = f"outcome {data.get('status')} for {data.get('key')}"
    elif kind is EventKind.PRODUCTION_CHANGED:
        text = f"PRODUCTION now runs {data.get('version')}"
    elif kind is EventKind.PRODUCTION_OBSERVED:
        restore = ", ".join(f"{k} {v}" for k, v in dict(data.get("restore") or {}).items())
        text = f"before the deploy, production runs {data.get('version') or 'an unknown version'} ({data.get('detail')})"
        text += f"; a rollback returns to {restore}" if restore else ""
    elif kind is EventKind.SAMPLE:
        health = state.series_health(str(data.get("series")))
        unit = health.spec.unit if health else ""
        value = data.get("value")
        shown = "no data" if value is None else f"{value:g}{unit}"
        status = health.health.value if health else ""
        text = f"sample {data.get('series')} {shown} [{status}]" + (f" ({data['error']})" if data.get("error") else "")
    elif kind is EventKind.BREACH_CONFIRMED:
        text = f"BREACH {data.get('series')} = {data.get('value')} above {data.get('threshold')} for {data.get('sustained_for')}s"
    elif kind is EventKind.ROLLBACK_REQUESTED:
        who = "automatically" if data.get("automatic") else f"by {data.get('by')}"
        text = f"ROLLBACK to {data.get('target')} requested {who}: {data.get('reason')}"
        if data.get("schema_verdict") not in (None, "additive"):
            text += f" — WARNING: {data.get('schema_note')}"
    elif kind is EventKind.RELEASE_ABORTED:
        text = f"release aborted by {data.get('by')}: {data.get('reason')}"
    elif kind is EventKind.RELEASE_FAILED:
        text = f"release FAILED: {data.get('reason')}"
    elif kind is EventKind.WATCH_STARTED:
        text = f"{title}: watching for {format_duration(float(data.get('duration', 0)))}, a poll every {float(data.get('interval', 0)):g}s"
    elif kind is EventKind.BASELINE_MEASURED:
        values = ", ".join(f"{name} {value:g}" if isinstance(value, (int, float)) else f"{name} no data" for name, value in dict(data.get("values") or {}).items())
        text = f"baseline before the deploy: {values or 'no series'}"
    elif kind is EventKind.NOTE:
        text = f"note: {data.get('message', '')}"
    else:
        text = f"{kind.value}: {json.dumps(dict(data), sort_keys=True)}"
    clock = time.strftime("%H:%M:%S", time.localtime(event.at))
    mark = "[rehearsal] " if state.rehearsal else ""  # nothing simulated passes for real
    return f"{mark}{clock} {phase_of(state).value:<13} {plain(text)}"


class HeadlessPrinter:
    """Subscribes to the runner and writes each event to `stream`."""

    def __init__(self, json_lines: bool, stream: TextIO | None = None) -> None:
        self.json_lines = json_lines
        self.stream = stream or sys.stdout
        self.reader_gone = False

    def __call__(self, event: Event, state: Release) -> None:
        if self.json_lines:
            record = event.to_record()
            record["phase"] = phase_of(state).value
            if state.rehearsal:
                record["rehearsal"] = True
            line = json.dumps(record, sort_keys=True, ensure_ascii=True)
        else:
            line = describe(event, state)
        if self.reader_gone:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            # `shipdeck release --auto | head`: the reader left, the release must not. The
            # journal keeps every event; stdout goes to devnull so exit's flush stays quiet.
            self.reader_gone = True
            if self.stream is sys.stdout:
                stdout_to_devnull()
