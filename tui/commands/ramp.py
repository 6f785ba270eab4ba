"""`shipdeck ramp FLAG [--to team|10|100|off] [--auto]`: a feature-flag ramp, watched like a deploy.

It runs through the same runner, journal, lock and exit codes as a release (core/ramp_session.py);
without --auto the cockpit shows it.
"""

from __future__ import annotations

import argparse
import sys

from shipdeck.core.ramp_session import RampRefused, open_ramp_session
from shipdeck.core.sanitize import plain

from .run import options_from, run_headless


def ramp(args: argparse.Namespace) -> int:
    try:
        session = open_ramp_session(options_from(args, command="ramp"), args.flag, args.to)
    except RampRefused as refused:
        print(f"shipdeck: ramp refused: {plain(str(refused))}", file=sys.stderr)
        return 2
    steps = ", ".join(str(s.spec.params.get("stage")) for s in session.runner.state.steps)
    print(f"shipdeck: ramping {args.flag} through {steps} ({session.runner.journal.path})", file=sys.stderr)
    if args.auto:
        return run_headless(session, args.json)
    from ..app import run_cockpit

    # In this process for now: a ramp's runner does not yet outlive the terminal like a release's.
    return run_cockpit(session)
