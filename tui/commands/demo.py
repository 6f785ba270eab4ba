"""`shipdeck demo`: a whole release against a generated repository and simulated production."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

from shipdeck.core.config import load_config
from shipdeck.core.sandbox.demo import DemoWorld, build_demo_world
from shipdeck.core.sandbox.demo_reuse import NotADemoWorld, existing_demo_world, merge_follow_up, rewrite_config
from shipdeck.core.sandbox.simulated import SCENARIOS
from shipdeck.core.session import Options, open_session
from shipdeck.core.store import store_for

from .run import run_headless


def demo(args: argparse.Namespace) -> int:
    if args.scenario not in SCENARIOS:
        print(f"shipdeck: unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    pace = args.pace or ("demo" if args.auto else "cockpit")
    root = Path(args.demo_dir) if args.demo_dir else Path(tempfile.mkdtemp(prefix="shipdeck-demo-"))
    try:
        world = existing_demo_world(root)
    except NotADemoWorld as error:
        print(f"shipdeck: {error}", file=sys.stderr)
        return 2
    if world is None:
        world = build_demo_world(root, args.scenario, pace=pace)
        print(f"shipdeck: demo world in {root} (repository {world.repo}, origin {world.origin})", file=sys.stderr)
    elif not _reuse(world, args.scenario, pace):
        return 1
    print(_where_to_look(world), file=sys.stderr)
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


def _reuse(world: DemoWorld, scenario: str, pace: str) -> bool:
    """Prepare an existing world for its next release (or its unfinished one); False on failure."""
    if store_for(load_config(world.config), world.repo, "production").active() is not None:
        print(f"shipdeck: reusing the demo world in {world.root}: its release in progress continues "
              "(scenario and pace stay as that release started)", file=sys.stderr)
        return True
    rewrite_config(world, scenario, pace)
    try:
        subject = merge_follow_up(world)
    except RuntimeError as error:
        print(f"shipdeck: cannot prepare the next demo release in {world.root}: {error}", file=sys.stderr)
        return False
    print(f"shipdeck: reusing the demo world in {world.root}: a teammate merged {subject!r} into develop; "
          "starting the next release there", file=sys.stderr)
    return True


def _where_to_look(world: DemoWorld) -> str:
    """The commands that read this world from another shell: it keeps its own config and state."""
    prefix = shlex.join(["shipdeck", "--config", str(world.config.resolve()), "--repo", str(world.repo.resolve())])
    return (
        "shipdeck: from another shell (this world has its own config and state folder):\n"
        f"  {prefix} status\n"
        f"  {prefix} history\n"
        f"  {prefix} resume"
    )
