"""The simulated providers as registry entries: only a rehearsal registry includes them.

They share one `World` (what production runs, deploys by key, posts) persisted beside the
demo's config, so a resumed release in another process sees the same production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..providers import datadog_spec
from ..providers.registry import BuildContext, ProviderSpec, Setting
from . import simulated as sim


def world_for(ctx: BuildContext) -> sim.World:
    """The demo world named by `[sandbox] world` (default beside the config)."""
    sandbox = ctx.config.sandbox
    location = sandbox.get("world")
    path = Path(location) if location else ctx.config.path.parent / ".shipdeck-world.json"
    if not path.is_absolute():
        path = ctx.config.path.parent / path
    return sim.World(path, scenario=str(sandbox.get("scenario", "healthy")), initial_tag=str(sandbox.get("production_tag", "")))


def _scenario(ctx: BuildContext) -> str:
    return str(ctx.config.sandbox.get("scenario", "healthy"))


def _initial_tag(ctx: BuildContext) -> str:
    return str(ctx.config.sandbox.get("production_tag", ""))


def _deployer(ctx: BuildContext) -> Any:
    return sim.SimulatedDeployer(
        world=world_for(ctx),
        clock=ctx.clock,
        duration=float(ctx.settings["duration"]),
        tasks=int(ctx.settings["tasks"]),
        fail_new_tags=_scenario(ctx) == "deploy-failure",
        initial_tag=_initial_tag(ctx),
    )


def _metrics(ctx: BuildContext) -> Any:
    return sim.SimulatedMetrics(world_for(ctx), scenario=_scenario(ctx), initial_tag=_initial_tag(ctx))


def _smoke(ctx: BuildContext) -> Any:
    return sim.SimulatedSmoke(
        world_for(ctx), ctx.clock, scenario=_scenario(ctx), initial_tag=_initial_tag(ctx), per_check=float(ctx.settings["per_check"])
    )


# One fake Datadog per world and process: every process that runs the demo world (the demo,
# a `resume` in another terminal) serves the same deterministic values for the same times.
_FAKES: dict[Path, Any] = {}
_DEMO_KEYS = {"SHIPDECK_DEMO_DD_API_KEY": "demo-api-key-not-a-secret", "SHIPDECK_DEMO_DD_APP_KEY": "demo-app-key-not-a-secret"}
_FAKE_SCENARIOS = {"regression": "regression", "blind": "blind", "garbage": "garbage", "rate-limited": "rate-limited"}


def _fake_datadog(ctx: BuildContext) -> Any:
    """The REAL Datadog provider, pointed at a loopback fake of Datadog's API the sandbox starts."""
    from dataclasses import replace

    from ..providers.datadog_spec import build as build_datadog
    from .datadog_fake import FakeDatadog

    world = world_for(ctx)
    fake = _FAKES.get(world.path)
    if fake is None:
        fake = FakeDatadog.for_scenario(
            _FAKE_SCENARIOS.get(_scenario(ctx), "healthy"),
            api_key=_DEMO_KEYS["SHIPDECK_DEMO_DD_API_KEY"],
            app_key=_DEMO_KEYS["SHIPDECK_DEMO_DD_APP_KEY"],
            production=world.production_at,
            initial_tag=_initial_tag(ctx),
        )
        scenario = _scenario(ctx)
        fake.behaviour = lambda tag: world.behaviour(tag, scenario)  # per release where a test sets it
        fake.start()
        _FAKES[world.path] = fake
    settings = {**ctx.settings, "url": fake.url, "api_key_env": "SHIPDECK_DEMO_DD_API_KEY", "app_key_env": "SHIPDECK_DEMO_DD_APP_KEY"}
    return build_datadog(replace(ctx, settings=settings, environ={**ctx.environ, **_DEMO_KEYS}))


SIMULATED = "simulated: demo and rehearsal only"

PROVIDERS = (
    ProviderSpec("image", "simulated", SIMULATED, build=lambda ctx: sim.SimulatedRegistry(), simulated=True),
    ProviderSpec(
        "deploy",
        "simulated",
        SIMULATED,
        {
            "duration": Setting("duration", default=12.0, help="how long a deploy takes"),
            "tasks": Setting("int", default=4, help="tasks per deploy", minimum=1),
        },
        build=_deployer,
        simulated=True,
    ),
    ProviderSpec("metrics", "simulated", SIMULATED, build=_metrics, simulated=True),
    ProviderSpec(
        "metrics",
        "datadog",
        "the real Datadog provider against the sandbox's loopback fake of Datadog's API (demo and rehearsal only)",
        dict(datadog_spec.PROVIDERS[0].settings),
        build=_fake_datadog,
        simulated=True,
        check_section=datadog_spec.PROVIDERS[0].check_section,
    ),
    ProviderSpec(
        "smoke", "simulated", SIMULATED, {"per_check": Setting("duration", default=0.3, help="time per critical path")}, build=_smoke, simulated=True
    ),
    ProviderSpec("notify", "simulated", SIMULATED, build=lambda ctx: sim.SimulatedNotifier(world_for(ctx)), simulated=True),
    ProviderSpec("ci", "simulated", SIMULATED, build=lambda ctx: sim.SimulatedCi(), simulated=True),
)
