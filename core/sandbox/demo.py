"""The demo world: a generated repository, a config with short windows, simulated providers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config_writer import Section, render
from ..store import identity
from .demo_repo import build_demo_repo
from .simulated import SCENARIOS


@dataclass(frozen=True)
class DemoWorld:
    root: Path
    repo: Path
    origin: Path
    config: Path


PACES = {
    # pace: (deploy duration, deploy_window, post_release, breach_for/blind_after, smoke per check)
    "cockpit": ("8s", "45s", "10s", "3s", "0.4s"),  # a person wants time to look
    "demo": ("6s", "15s", "4s", "3s", "0.3s"),
    "test": ("1s", "3s", "1s", "1s", "0.02s"),  # the suite's integration runs
}


def demo_sections(scenario: str, captain: str, *, pace: str = "demo") -> list[Section]:
    """Config for the demo: everything simulated, windows in seconds, the captain holds every role."""
    deploy_for, window, post, breach, per_check = PACES[pace]
    watch = {"deploy_window": window, "post_release": post, "breach_for": breach, "blind_after": breach}
    return [
        ("The demo product: a generated repository with a bare origin beside it.",
         {"project": {"name": "demo-product", "remote": "origin", "compare_url": "https://github.com/example/demo-product/compare/{previous}...{tag}", "state_dir": "state"}}),
        ("Any time is release time in the demo.",
         {"release": {"window": {"always": True}, "rollback_roles": ["engineering-manager", "cto", "on-call"],
                      "approvals": {"regular": {"roles": ["engineering-manager"]}, "hotfix": {"roles": ["cto", "on-call"]},
                                    "major": {"roles": ["cto", "product"], "require": "all"}}}}),
        ("You hold every role in the demo.",
         {"roles": {"engineering-manager": [captain], "cto": [captain], "on-call": [captain], "product": [captain]}}),
        ("Everything below is simulated; the scenario decides how production behaves.",
         {"sandbox": {"scenario": scenario, "production_tag": "v1.3.0", "world": "world.json"}}),
        ("", {"ci": {"provider": "simulated"}}),
        ("", {"image": {"provider": "simulated"}}),
        ("", {"deploy": {"provider": "simulated", "duration": deploy_for, "tasks": 4}}),
        ("", {"environments": {"staging": {"url": "http://127.0.0.1:9/staging"}, "production": {"url": "http://127.0.0.1:9/"}}}),
        ("Metrics through the real Datadog provider, answered by the sandbox's loopback fake of Datadog.",
         {"metrics": {"provider": "datadog", "interval": "0.25s" if pace == "test" else "1s", "series": {
            "error_rate": {"queries": {"errors": "sum:trace.http.request.errors{service:web,env:production}.as_count()",
                                       "hits": "sum:trace.http.request.hits{service:web,env:production}.as_count()"},
                           "formula": "100 * errors / hits", "unit": "%", "baseline": 1.0, "rollback_above": 5.0},
            "p95_latency": {"query": "p95:trace.http.request{service:web,env:production}", "unit": "ms", "baseline": 500.0, "rollback_above": 2000.0},
            "queue_depth": {"query": "avg:celery.queue.depth{env:production}", "unit": "", "warn_above": 100.0}}}}),
        ("", {"watch": watch}),
        ("", {"smoke": {"provider": "simulated", "per_check": per_check}}),
        ("", {"notify": {"provider": "simulated"}}),
    ]


def build_demo_world(root: Path, scenario: str = "healthy", *, pace: str = "demo", slow: bool = False) -> DemoWorld:
    """Generate the demo repository and its config under `root`. `slow` is pace="cockpit"."""
    pace = "cockpit" if slow else pace
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    root = Path(root)
    repo = build_demo_repo(root, destructive_migration=False)
    config = root / "shipdeck.toml"
    config.write_text(render(demo_sections(scenario, identity(), pace=pace)), encoding="utf-8")
    return DemoWorld(root=root, repo=repo.path, origin=repo.origin, config=config)
