"""`shipdeck init` and the demo's config: TOML written by tomli-w, with a comment per table.

tomli-w writes values exactly (quoting, escapes, arrays of tables) but no comments, so each
table is dumped on its own under the comment that explains it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import tomli_w

Section = tuple[str, Mapping[str, Any]]  # (comment, {table: {...}})


def render(sections: Sequence[Section]) -> str:
    parts = ["# shipdeck.toml — the release captain's cockpit. Secrets never go here: keys and\n"
             "# webhook URLs are read from the environment variables this file names.\n"]
    for comment, table in sections:
        lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
        parts.append("\n" + lines + tomli_w.dumps(table))
    return "".join(parts)


def default_sections(project_name: str, remote_url: str = "") -> list[Section]:
    compare = ""
    if remote_url:
        slug = remote_url.removesuffix(".git").split("github.com")[-1].lstrip(":/")
        if slug and "github.com" in remote_url:
            compare = f"https://github.com/{slug}/compare/{{previous}}...{{tag}}"
    return [
        (
            "The product and its branches. compare_url gets {previous} and {tag}.\n"
            "state_dir holds journals and the captain lock; on a shared bastion point every captain at\n"
            "the same folder (default: $XDG_STATE_HOME/shipdeck).",
            {"project": {"name": project_name, "remote": "origin", "main_branch": "main", "develop_branch": "develop", "compare_url": compare}},
        ),
        (
            "Branch and tag patterns ({date} = YYYY-MM-DD, {version} = 1.4.0), who may roll back, and\n"
            "where announcements go.",
            {
                "release": {
                    "branch_pattern": "release/{date}",
                    "hotfix_branch_pattern": "hotfix/{version}",
                    "tag_pattern": "v{version}",
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
            "Who holds each role (names as SHIPDECK_USER or the OS user gives them).",
            {"roles": {"engineering-manager": ["alice"], "cto": ["carol"], "on-call": ["dave"], "product": ["erin"]}},
        ),
        ("Where the image for a tag must exist before the deploy (ecr arrives in a later version).", {"image": {"provider": "none"}}),
        ("How production is deployed: simulated | github-actions | ecs | command.", {"deploy": {"provider": "simulated", "duration": "12s", "tasks": 4}}),
        (
            "Environments and their base URLs (smoke tests run against these).",
            {"environments": {"staging": {"url": "https://staging.example.com"}, "production": {"url": "https://example.com"}}},
        ),
        (
            "Metrics watched after the deploy. A breach counts once it holds for watch.breach_for.",
            {
                "metrics": {
                    "provider": "simulated",
                    "interval": "10s",
                    "series": {
                        "error_rate": {"query": "", "unit": "%", "baseline": 1.0, "rollback_above": 5.0},
                        "p95_latency": {"query": "", "unit": "ms", "baseline": 500.0, "rollback_above": 2000.0},
                        "queue_depth": {"query": "", "unit": "", "warn_above": 100.0},
                    },
                }
            },
        ),
        (
            "deploy_window: the watch right after the deploy; post_release: the longer watch after it.\n"
            "blind_after: no data for this long is 'blind', which is never healthy.",
            {"watch": {"deploy_window": "30m", "post_release": "2h", "breach_for": "2m", "blind_after": "1m"}},
        ),
        ("Smoke tests of the critical paths (http checks arrive in a later version).", {"smoke": {"provider": "simulated"}}),
        ("Announcements: console | simulated | slack (channels name webhook environment variables).", {"notify": {"provider": "console"}}),
        ("Alembic migration folders checked for zero-downtime safety.", {"migrations": {"directories": ["migrations/versions", "alembic/versions"]}}),
    ]
