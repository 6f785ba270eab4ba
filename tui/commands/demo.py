"""`shipdeck demo`: a whole release against a generated repository and simulated production."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from shipdeck.core.sandbox.demo import build_demo_world
from shipdeck.core.sandbox.simulated import SCENARIOS
from shipdeck.core.session import Options, open_session

from .run import run_headless


def demo(args: argparse.Namespace) -> int:
    if args.scenario not in SCENARIOS:
        print(f"shipdeck: unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    root = Path(args.demo_dir) if args.demo_dir else Path(tempfile.mkdtemp(prefix="shipdeck-demo-"))
    world = build_demo_world(root, args.scenario, pace=args.pace or ("demo" if args.auto else "cockpit"))
    print(f"shipdeck: demo world in {root} (repository {world.repo}, origin {world.origin})", file=sys.stderr)
    options = Options(
        config_path=world.config,
        repo_path=world.repo,
        auto=args.auto,
        assume_yes=args.auto or args.yes,  # nobody else is there to approve a headless demo
        force=True,
        interactive=not args.auto,
        command_name="demo",
    )
    session = open_session(options)
    if args.auto:
        return run_headless(session, args.json)
    from ..app import run_cockpit

    return run_cockpit(session)
