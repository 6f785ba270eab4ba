"""The `shipdeck` command line.

Only argparse and the standard library are imported at start: each command imports what it
needs, so `shipdeck --version` and `shipdeck status` never load Textual, boto3 or the
Datadog client.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from .pipes import DiagnosticsStream, stdout_to_devnull

RELEASED, FAILED, USAGE, WAITING = 0, 1, 2, 4


def _parser() -> argparse.ArgumentParser:
    from shipdeck.core import __version__

    parser = argparse.ArgumentParser(prog="shipdeck", description="The release captain's cockpit.")
    parser.add_argument("--version", action="version", version=f"shipdeck {__version__}")
    _global_options(parser)
    parser.set_defaults(config=None, repo=Path("."))
    commands = parser.add_subparsers(dest="command")

    release = commands.add_parser("release", help="start (or resume) a release")
    release.add_argument("--type", dest="release_type", choices=("regular", "hotfix", "major"), default="regular")
    release.add_argument("--version", dest="release_version", default=None, help="override the next version (X.Y.Z)")
    release.add_argument("--env", dest="environment", default="production")
    release.add_argument("--rehearse", action="store_true", help="rehearse on a copy of the repository against simulated production")
    release.add_argument("--scenario", default="healthy", help="with --rehearse: how simulated production behaves")
    _headless_flags(release)

    resume = commands.add_parser("resume", help="continue the active release from its journal")
    resume.add_argument("--env", dest="environment", default="production")
    _headless_flags(resume)

    rollback = commands.add_parser("rollback", help="roll production back to the previous release")
    rollback.add_argument("--to", dest="target", default=None, help="the version to roll back to (default: the previous release)")
    rollback.add_argument("--reason", required=True)
    rollback.add_argument("--env", dest="environment", default="production")
    rollback.add_argument("--auto", action="store_true", help="run the rollback headless in this terminal")
    rollback.add_argument("--json", action="store_true")

    ramp = commands.add_parser("ramp", help="feature-flag ramp, watched like a deploy")
    ramp.add_argument("flag", help="a flag with a [[flags.ramp]] entry")
    ramp.add_argument("--to", default=None, help="team, a percentage (10, 100) or off (default: the whole ramp)")
    ramp.add_argument("--env", dest="environment", default="production")
    _headless_flags(ramp)

    approve = commands.add_parser("approve", help="approve, confirm or waive a waiting step as yourself")
    approve.add_argument("step", nargs="?", default="", help="step id (default: the waiting step)")
    approve.add_argument("--reason", default="")
    approve.add_argument("--waive", action="store_true", help="waive a blocked check (needs --reason)")
    approve.add_argument("--env", dest="environment", default="production")

    watch = commands.add_parser("watch", help="read-only view of the active release")
    watch.add_argument("--env", dest="environment", default="production")
    watch.add_argument("--json", action="store_true")
    watch.add_argument("--follow", action="store_true", help="print events as lines instead of opening the cockpit")

    commands.add_parser("doctor", help="check every configured provider")
    status = commands.add_parser("status", help="phase, steps and last samples of the active release")
    status.add_argument("--env", dest="environment", default="production")
    status.add_argument("--json", action="store_true")
    history = commands.add_parser("history", help="past releases from the journals")
    history.add_argument("--env", dest="environment", default="production")
    history.add_argument("--json", action="store_true")

    notes = commands.add_parser("notes", help="release notes for a range of commits")
    notes.add_argument("--from", dest="from_ref", default=None, help="default: the previous release tag")
    notes.add_argument("--to", dest="to_ref", default="HEAD")
    notes.add_argument("--format", choices=("markdown", "json"), default="markdown")
    notes.add_argument("--version", dest="notes_version", default=None, help="version to title the notes with")

    migrations = commands.add_parser("check-migrations", help="flag migrations that are not zero-downtime")
    migrations.add_argument("--from", dest="from_ref", default=None)
    migrations.add_argument("--to", dest="to_ref", default="HEAD")
    migrations.add_argument("--json", action="store_true")

    init = commands.add_parser("init", help="write a commented shipdeck.toml for this repository")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    demo = commands.add_parser("demo", help="the whole flow against a generated repository, no credentials")
    demo.add_argument("--scenario", default="healthy")
    demo.add_argument("--dir", dest="demo_dir", type=Path, default=None, help="keep the demo world here (default: a temp dir)")
    demo.add_argument("--pace", choices=("cockpit", "demo", "test"), default=None, help="how long deploys and watches take")
    _headless_flags(demo)
    for command in commands.choices.values():
        # Accepted after the subcommand too (`shipdeck notes --repo X`). SUPPRESS keeps a
        # subcommand that was not given them from overwriting what came before it.
        _global_options(command)
    return parser


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="path to shipdeck.toml (default: REPO/shipdeck.toml)")
    parser.add_argument("--repo", type=Path, default=argparse.SUPPRESS, help="the product repository (default: .)")


def _headless_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auto", action="store_true", help="run headless (CI): one line per event, exit code 0-5")
    parser.add_argument("--json", action="store_true", help="with --auto: one JSON object per event")
    parser.add_argument("--yes", action="store_true", help="approve and confirm as yourself where your roles allow")
    parser.add_argument("--force", action="store_true", help="release outside the release window")
    parser.add_argument("--detach", action="store_true", help="with --auto: run the release in its own process and follow it")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.config is None:
        args.config = args.repo / "shipdeck.toml"
    command = args.command or "cockpit"
    handler = _COMMANDS[command]
    stderr = sys.stderr
    sys.stderr = DiagnosticsStream(stderr)  # type: ignore[assignment]
    try:
        return _run(handler, args)
    finally:
        sys.stderr = stderr


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        code = handler(args)
    except BrokenPipeError:
        return _reader_gone(0)
    except KeyboardInterrupt:
        print("interrupted; the journal keeps the release: `shipdeck resume` continues it", file=sys.stderr)
        return WAITING
    except Exception as error:  # the known failures, each with a message a captain can act on
        code = _known_error(error)
        if code is None:
            raise
        return code
    try:
        sys.stdout.flush()  # what is still buffered meets a reader that went away here, not at exit
    except BrokenPipeError:
        return _reader_gone(code)
    return code


def _reader_gone(code: int) -> int:
    """stdout's reader closed the pipe (`shipdeck status | head -1`): stop quietly with `code`."""
    stdout_to_devnull()
    return code


def _known_error(error: Exception) -> int | None:
    """Print a failure a captain can act on and return its exit code; None for a real bug."""
    known = known_failure(error)
    if known is None:
        return None
    message, code = known
    print(message, file=sys.stderr)
    return code


def known_failure(error: Exception) -> tuple[str, int] | None:
    """The line to print for a failure a captain can act on, and its exit code; None for a bug."""
    from shipdeck.core.config import ConfigError
    from shipdeck.core.journal import JournalCorrupt
    from shipdeck.core.lock import LockHeld
    from shipdeck.core.providers.base import NotConfigured, ProviderError
    from shipdeck.core.sanitize import plain
    from shipdeck.core.store import NoActiveRelease, ReleaseInProgress

    # Classes of the git side are imported lazily (GitPython is heavy), so matched by name; a
    # name row comes before the class rows, since these are ProviderError subclasses.
    by_name: dict[str, tuple[str, int]] = {
        "NothingToRelease": ("", RELEASED),
        "ReleasePlanError": ("", USAGE),
        "NotesError": ("", USAGE),
        "MigrationCheckError": ("migrations: ", USAGE),
    }
    known: list[tuple[tuple[type[Exception], ...], str, int]] = [
        ((ConfigError,), "configuration error: ", USAGE),
        ((NotConfigured,), "not configured: ", USAGE),
        ((LockHeld,), "", WAITING),
        ((NoActiveRelease,), "", FAILED),
        ((ReleaseInProgress,), "", USAGE),
        ((JournalCorrupt,), "journal damaged: ", 5),
        ((ProviderError,), "", FAILED),
    ]
    names = [cls.__name__ for cls in type(error).__mro__]
    named = next((by_name[name] for name in names if name in by_name), None)
    if named is not None:
        prefix, code = named
    else:
        for types, prefix, code in known:
            if isinstance(error, types):
                break
        else:
            if "GitReleaseError" not in names:
                return None
            prefix, code = "", FAILED
    return f"shipdeck: {prefix}{plain(error)}", code


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    return run


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "cockpit": _lazy("shipdeck.tui.commands.run", "cockpit"),
    "release": _lazy("shipdeck.tui.commands.run", "release"),
    "resume": _lazy("shipdeck.tui.commands.run", "resume"),
    "rollback": _lazy("shipdeck.tui.commands.act", "rollback"),
    "approve": _lazy("shipdeck.tui.commands.act", "approve"),
    "ramp": _lazy("shipdeck.tui.commands.ramp", "ramp"),
    "watch": _lazy("shipdeck.tui.commands.run", "watch"),
    "doctor": _lazy("shipdeck.tui.commands.inspect", "doctor"),
    "status": _lazy("shipdeck.tui.commands.inspect", "status"),
    "history": _lazy("shipdeck.tui.commands.inspect", "history"),
    "notes": _lazy("shipdeck.tui.commands.repo", "notes"),
    "check-migrations": _lazy("shipdeck.tui.commands.repo", "check_migrations"),
    "init": _lazy("shipdeck.tui.commands.repo", "init"),
    "demo": _lazy("shipdeck.tui.commands.demo", "demo"),
}


if __name__ == "__main__":
    sys.exit(main())
