"""`shipdeck init` and the demo's config: TOML written by tomli-w, with a comment per table.

tomli-w writes values exactly (quoting, escapes, arrays of tables) but no comments, so each
table is dumped on its own under the comment that explains it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import tomli_w

from .repo_facts import RepoFacts

Section = tuple[str, Mapping[str, Any]]  # (comment, {table: {...}})


def render(sections: Sequence[Section]) -> str:
    parts = ["# shipdeck.toml — the release captain's cockpit. Secrets never go here: keys and\n"
             "# webhook URLs are read from the environment variables this file names.\n"]
    for comment, table in sections:
        lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
        parts.append("\n" + lines + tomli_w.dumps(table))
    return "".join(parts)


def commented(comment: str, table: Mapping[str, Any]) -> str:
    """A TOML table written out commented: an example to adapt, not a setting in force."""
    return commented_text(comment) + commented_text(tomli_w.dumps(table))


def commented_text(text: str) -> str:
    """Hand-written TOML (kept readable where tomli-w would spread it out) as commented lines."""
    return "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines())


def default_sections(facts: RepoFacts, captain: str) -> list[Section]:
    """What `shipdeck init` writes: what it detected, and "none" for every outside system.

    It never writes a simulated provider, and invents no people: every role is the person
    running `init`, to be changed.
    """
    compare = f"https://github.com/{facts.github_slug}/compare/{{previous}}...{{tag}}" if facts.github_slug else ""
    develop_note = "" if facts.develop_branch else (
        "\nNo develop branch was found: regular releases are cut from the main branch until you make one."
    )
    return [
        (
            "The product and its branches (detected). compare_url gets {previous} and {tag}.\n"
            "state_dir holds journals and the captain lock; on a shared bastion point every captain at\n"
            "the same folder (default: $XDG_STATE_HOME/shipdeck)." + develop_note,
            {"project": {"name": facts.name, "remote": "origin", "main_branch": facts.main_branch,
                         "develop_branch": facts.develop_branch or facts.main_branch, "compare_url": compare}},
        ),
        (
            "Branch and tag patterns ({date} = YYYY-MM-DD, {version} = 1.4.0), who may roll back, and\n"
            "where announcements go.",
            {
                "release": {
                    "branch_pattern": "release/{date}",
                    "hotfix_branch_pattern": "hotfix/{version}",
                    "tag_pattern": facts.tag_pattern,
                    "rollback_roles": ["engineering-manager", "cto", "on-call"],
                    "announce_channel": "engineering",
                    "success_channel": "general",
                }
            },
        ),
        (
            "Regular releases happen in this window; outside it `--force` is needed. Hotfixes ignore it.",
            {"release": {"window": {"days": ["fri"], "start": "14:00", "end": "17:00", "timezone": "America/Los_Angeles"}}},
        ),
        (
            "Approvals per release type: any one of the roles, or all of them.",
            {
                "release": {
                    "approvals": {
                        "regular": {"roles": ["engineering-manager"], "require": "any"},
                        "hotfix": {"roles": ["cto", "on-call"], "require": "any"},
                        "major": {"roles": ["cto", "product"], "require": "all"},
                    }
                }
            },
        ),
        (
            f"Who holds each role (names as SHIPDECK_USER or the OS user gives them). Only you ({captain}) so far:\n"
            "put the real engineering manager, CTO, on-call engineers and product owner here.",
            {"roles": {role: [captain] for role in ("engineering-manager", "cto", "on-call", "product")}},
        ),
        (
            "Environments and their base URLs (smoke tests run against these).",
            {"environments": {"staging": {"url": "https://staging.example.com"}, "production": {"url": "https://example.com"}}},
        ),
        (
            "Metrics watched after the deploy. A breach counts once it holds for watch.breach_for.\n"
            "No metrics provider yet: the watch waits for a person. See the Datadog example below.",
            {
                "metrics": {
                    "provider": "none",
                    "interval": "10s",
                    "series": {
                        "error_rate": {"unit": "%", "baseline": 1.0, "rollback_above": 5.0},
                        "p95_latency": {"unit": "ms", "baseline": 500.0, "rollback_above": 2000.0},
                        "queue_depth": {"unit": "", "warn_above": 100.0},
                    },
                }
            },
        ),
        (
            "deploy_window: the watch right after the deploy; post_release: the longer watch after it.\n"
            "blind_after: no data for this long is 'blind', which is never healthy.",
            {"watch": {"deploy_window": "30m", "post_release": "2h", "breach_for": "2m", "blind_after": "1m"}},
        ),
        ("The image for the tag: none configured (the check is marked not checked).", {"image": {"provider": "none"}}),
        ("How production is deployed: none configured yet, so nothing can deploy. Configure it before\nthe first release.", {"deploy": {"provider": "none"}}),
        ("Smoke tests of the critical paths: none configured (the steps wait for a person). See the\nHTTP example below for the five critical paths.", {"smoke": {"provider": "none"}}),
        ("Announcements: printed on the captain's terminal.", {"notify": {"provider": "console"}}),
        (
            "Alembic migration folders checked for zero-downtime safety"
            + (f" (found: {', '.join(facts.migration_folders)})." if facts.migration_folders else " (none found; the usual places are searched).")
            + "\nList extra folders here if yours are elsewhere.",
            {"migrations": {"directories": list(facts.migration_folders)}},
        ),
    ]


def provider_examples(specs: Sequence[Any]) -> str:
    """A commented example of every real provider the registry has, to switch on by hand."""
    parts = []
    for spec in sorted(specs, key=lambda s: (s.kind, s.name)):
        if spec.simulated or not spec.example:
            continue
        if spec.kind == "smoke" and spec.name == "http":
            from .providers.smoke_example import SMOKE_EXAMPLE, SMOKE_EXAMPLE_COMMENT

            parts.append("\n" + commented_text(SMOKE_EXAMPLE_COMMENT + "\n\n" + SMOKE_EXAMPLE))
            continue
        example = {"provider": spec.name, **spec.example}  # the provider line first, whatever the spec wrote
        parts.append("\n" + commented(f"Example: {spec.summary}.\nTo use it, replace the [{spec.kind}] table above with this one.", {spec.kind: example}))
        if spec.kind == "metrics" and spec.name == "datadog":
            parts.append(commented(
                "and for each series, what to ask Datadog:",
                {"metrics": {"series": {
                    "error_rate": {"queries": {"errors": "sum:trace.http.request.errors{service:web,env:production}.as_count()",
                                               "hits": "sum:trace.http.request.hits{service:web,env:production}.as_count()"},
                                   "formula": "100 * errors / hits"},
                    "p95_latency": {"query": "p95:trace.http.request{service:web,env:production}"},
                    "queue_depth": {"query": "avg:celery.queue.depth{env:production}"},
                }}},
            ))
    return "".join(parts)
