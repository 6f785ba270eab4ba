"""`notes`, `check-migrations`, `init`: commands about the repository itself."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date

from shipdeck.core.config import Config, ConfigError, load_config


def _config_or_none(args: argparse.Namespace) -> Config | None:
    if not args.config.exists():
        return None
    return load_config(args.config)


def _not_a_repository(args: argparse.Namespace) -> bool:
    """Say so in one line when --repo is not inside a git repository (never git's usage text)."""
    probe = subprocess.run(["git", "-C", str(args.repo), "rev-parse", "--git-dir"], capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        return False
    print(f"shipdeck: {args.repo.resolve()} is not a git repository; run inside the product's repository or pass --repo", file=sys.stderr)
    return True


def _previous_tag(args: argparse.Namespace, config: Config | None) -> str | None:
    from shipdeck.core.providers.git import GitRelease

    tag_pattern = config.release.tag_pattern if config else "v{version}"
    return GitRelease(args.repo, tag_pattern=tag_pattern).previous_release_tag()


def notes(args: argparse.Namespace) -> int:
    from shipdeck.core.notes import notes_for_range
    from shipdeck.core.notes_git import tag_date

    if _not_a_repository(args):
        return 2
    config = _config_or_none(args)
    from_ref = args.from_ref or _previous_tag(args, config)
    released_on = tag_date(args.repo, args.to_ref)  # a tag names the release and its day
    version = args.notes_version or (args.to_ref if released_on else "Unreleased")
    if args.notes_version:
        tag = (config.release.tag_pattern if config else "v{version}").format(version=version.lstrip("v"))
    else:
        tag = version
    result = notes_for_range(
        args.repo,
        from_ref,
        args.to_ref,
        version=version.lstrip("v"),
        tag=tag,
        previous_tag=from_ref,
        date=released_on or date.today(),
        compare_url=config.project.compare_url if config else "",
        rules=config.notes.get("rules", ()) if config else (),
    )
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(result.to_markdown())
    return 0


def check_migrations(args: argparse.Namespace) -> int:
    from shipdeck.core.migrations import check_migrations as check, render_report

    if _not_a_repository(args):
        return 2
    config = _config_or_none(args)
    from_ref = args.from_ref or _previous_tag(args, config)
    report = check(args.repo, from_ref, args.to_ref, config.migrations_dirs if config else ())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(render_report(report), end="")
    # Not checked (no migrations folder) is not a failure, and the words above never say passed.
    return 1 if report.findings else 0


def init(args: argparse.Namespace) -> int:
    from shipdeck.core.config_writer import default_sections, provider_examples, render
    from shipdeck.core.providers.registry import production_registry
    from shipdeck.core.repo_facts import detect
    from shipdeck.core.store import identity

    path = args.config
    if path.exists() and not args.force:
        print(f"shipdeck: {path} already exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    if _not_a_repository(args):
        return 2
    facts = detect(args.repo)
    text = render(default_sections(facts, identity())) + provider_examples(production_registry().specs())
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)  # what init writes must load; a broken template is a bug, not a user error
    except ConfigError as error:
        raise AssertionError(f"init wrote an invalid config: {error}") from None
    found = [f"main branch {facts.main_branch}", f"develop branch {facts.develop_branch or 'none (releases cut from main)'}"]
    found.append(f"tags like {facts.tag_pattern.replace('{version}', '1.4.0')}")
    found.append(f"GitHub {facts.github_slug}" if facts.github_slug else "no GitHub remote (no compare links)")
    found.append(f"migrations in {', '.join(facts.migration_folders)}" if facts.migration_folders else "no Alembic migrations folder")
    print(f"wrote {path} ({'; '.join(found)}).", file=sys.stderr)
    print("Next: put real people in [roles], your URLs in [environments], and configure [deploy] and [metrics];", file=sys.stderr)
    print("then `shipdeck doctor`. Nothing in it is simulated: until a provider is configured, its steps wait for you.", file=sys.stderr)
    return 0
