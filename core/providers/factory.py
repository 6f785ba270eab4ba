"""Build the providers a config names. Heavy clients are imported only here, only when named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..clock import Clock
from ..config import Config, ConfigError
from ..durations import parse_duration
from .base import NotConfigured
from .console import ConsoleNotifier

# Providers the design names whose integration has not landed in this version yet.
LATER = {
    ("image", "ecr"): "the ECR image check",
    ("deploy", "github-actions"): "the GitHub Actions deployer",
    ("deploy", "ecs"): "the ECS deployer",
    ("deploy", "command"): "the command deployer",
    ("metrics", "datadog"): "the Datadog metrics source",
    ("smoke", "http"): "the HTTP smoke checks",
    ("notify", "slack"): "Slack notifications",
}
KNOWN = {
    "image": {"none", "simulated", "ecr"},
    "deploy": {"none", "simulated", "github-actions", "ecs", "command"},
    "metrics": {"none", "simulated", "datadog"},
    "smoke": {"none", "simulated", "http"},
    "notify": {"console", "simulated", "slack"},
    "ci": {"none", "simulated"},
}


def _check(config: Config, section: str, name: str) -> None:
    if name not in KNOWN[section]:
        raise ConfigError(config.path, f"{section}.provider", f"unknown provider {name!r}; choose one of {', '.join(sorted(KNOWN[section]))}")
    if (section, name) in LATER:
        raise NotConfigured(
            f"[{section}] provider = \"{name}\" in {config.path}: {LATER[(section, name)]} is not available in this "
            f"version of shipdeck yet. Use provider = \"simulated\" to rehearse, or run that part by hand."
        )


def build_services(config: Config, repo_path: Path | None, clock: Clock, *, need_deploy: bool = True) -> Any:
    """The Services for one release. Raises NotConfigured for integrations not yet shipped."""
    from ..runner import Services

    for section, provider in (
        ("image", config.image),
        ("deploy", config.deploy),
        ("metrics", config.metrics),
        ("smoke", config.smoke),
        ("notify", config.notify),
    ):
        _check(config, section, provider.provider)
    simulated = {p.provider for p in (config.image, config.deploy, config.metrics, config.smoke, config.notify)} & {"simulated"}
    world = _world(config, repo_path) if simulated else None
    scenario = str(config.sandbox.get("scenario", "healthy"))
    initial_tag = str(config.sandbox.get("production_tag", ""))

    from ..sandbox import simulated as sim

    deployer = None
    if config.deploy.provider == "simulated":
        settings = config.deploy.settings
        deployer = sim.SimulatedDeployer(
            world=world,
            clock=clock,
            duration=parse_duration(settings.get("duration", "12s")),
            tasks=int(settings.get("tasks", 4)),
            fail_new_tags=scenario == "deploy-failure",
            initial_tag=initial_tag,
        )
    elif need_deploy:
        raise NotConfigured(f"[deploy] provider = \"none\" in {config.path}: nothing can deploy; configure a deployer")
    git = None
    if repo_path is not None and (Path(repo_path) / ".git").exists():
        from .git import GitRelease

        git = GitRelease(
            Path(repo_path),
            remote=config.project.remote,
            main_branch=config.project.main_branch,
            develop_branch=config.project.develop_branch,
            tag_pattern=config.release.tag_pattern,
            branch_pattern=config.release.branch_pattern,
            hotfix_branch_pattern=config.release.hotfix_branch_pattern,
        )
    ci_name = str(config.sandbox.get("ci", "simulated" if world is not None else "none"))
    return Services(
        deployer=deployer,
        notifier=sim.SimulatedNotifier(world) if config.notify.provider == "simulated" else ConsoleNotifier(),
        registry=sim.SimulatedRegistry() if config.image.provider == "simulated" else None,
        metrics=sim.SimulatedMetrics(world, scenario=scenario, initial_tag=initial_tag) if config.metrics.provider == "simulated" else None,
        smoke=sim.SimulatedSmoke(
            world, clock, scenario=scenario, initial_tag=initial_tag, per_check=parse_duration(config.smoke.settings.get("per_check", "0.3s"))
        )
        if config.smoke.provider == "simulated"
        else None,
        ci=sim.SimulatedCi() if ci_name == "simulated" else None,
        git=git,
        repo_path=Path(repo_path) if repo_path is not None else None,
    )


def _world(config: Config, repo_path: Path | None):
    from ..sandbox.simulated import World

    location = config.sandbox.get("world")
    path = Path(location) if location else (config.path.parent / ".shipdeck-world.json")
    if not path.is_absolute():
        path = config.path.parent / path
    return World(path, scenario=str(config.sandbox.get("scenario", "healthy")), initial_tag=str(config.sandbox.get("production_tag", "")))
