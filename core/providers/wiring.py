"""Build the providers a config names, through the registry. Heavy clients load only here.

Which registry: the production one, unless the config is a demo world's (it has `[sandbox]`)
or the captain asked for a rehearsal — only then do simulated providers exist at all.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Mapping

from ..clock import Clock
from ..config import Config
from ..secrets import MissingSecret
from .base import NotConfigured
from .registry import KINDS, BuildContext, Check, Registry, production_registry, rehearsal_registry


def registry_for(config: Config, rehearsal: bool = False) -> Registry:
    return rehearsal_registry() if rehearsal or config.rehearsal else production_registry()


# The systems whose provider changes production: a world that runs a real one is no rehearsal.
CHANGES_PRODUCTION = ("deploy", "flags")


def real_in_sandbox(config: Config) -> list[str]:
    """In a demo world's config ([sandbox]), the kinds whose provider is real ("kind (name)").

    Empty for a production config (everything there is real, and nothing is a rehearsal).
    """
    if not config.rehearsal:
        return []
    registry = rehearsal_registry()
    real = []
    for kind in KINDS:
        name = config.provider(kind).provider
        spec = registry.get(kind, name)
        if spec is not None and not spec.simulated and spec.build is not None and name != "console":
            real.append(f"{kind} ({name})")
    return real


def is_rehearsal(config: Config) -> bool:
    """Whether a release on `config` is a rehearsal: a demo world whose deploys and flag changes
    are simulated. One real production-changing provider makes it real, and it is never
    labelled a rehearsal."""
    return config.rehearsal and not any(entry.split(" ")[0] in CHANGES_PRODUCTION for entry in real_in_sandbox(config))


def build_context(
    config: Config, kind: str, clock: Clock, repo_path: Path | None, environment: str, registry: Registry, environ: Mapping[str, str] | None = None
) -> BuildContext:
    chosen = config.provider(kind)
    return BuildContext(
        kind=kind,
        name=chosen.provider,
        settings=chosen.settings,
        config=config,
        repo_path=repo_path,
        clock=clock,
        environ=os.environ if environ is None else environ,
        environment=environment,
        rehearsal=registry.rehearsal,
    )


def build_provider(ctx: BuildContext, registry: Registry) -> Any:
    """The provider for one kind, or None for "none". Raises NotConfigured (a missing secret)."""
    spec = registry.get(ctx.kind, ctx.name)
    if spec is None:  # the config was validated against another registry
        raise NotConfigured(f"[{ctx.kind}] provider = \"{ctx.name}\" in {ctx.config.path}: {registry.unknown(ctx.kind, ctx.name)}")
    if spec.build is None:
        return None
    try:
        return spec.build(ctx)
    except MissingSecret as error:
        raise NotConfigured(f"[{ctx.kind}] provider = \"{ctx.name}\": {error}; export it in the captain's shell, then run `shipdeck doctor`") from None


def build_services(
    config: Config,
    repo_path: Path | None,
    clock: Clock,
    *,
    environment: str = "production",
    rehearsal: bool = False,
    need_deploy: bool = True,
) -> Any:
    """The Services for one release. Raises NotConfigured for a deployer of "none" or a missing secret."""
    from ..runner import Services

    registry = registry_for(config, rehearsal)
    built = {kind: build_provider(build_context(config, kind, clock, repo_path, environment, registry), registry) for kind in KINDS}
    if built["deploy"] is None and need_deploy:
        raise NotConfigured(f'[deploy] provider = "none" in {config.path}: nothing can deploy; configure a deployer')
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
    return Services(
        deployer=built["deploy"],
        notifier=built["notify"],
        registry=built["image"],
        metrics=built["metrics"],
        smoke=built["smoke"],
        ci=built["ci"],
        email=built["email"],
        flags=built["flags"],
        git=git,
        repo_path=Path(repo_path) if repo_path is not None else None,
    )


async def _run(check: Any, ctx: BuildContext) -> list[Check]:
    return list(await check(ctx))


def check_providers(config: Config, clock: Clock, repo_path: Path | None, environment: str = "production") -> list[Check]:
    """`shipdeck doctor`: every configured provider's own check (credentials, reachable, allowed)."""
    registry = registry_for(config)
    rows: list[Check] = []
    for kind in KINDS:
        ctx = build_context(config, kind, clock, repo_path, environment, registry)
        spec = registry.get(kind, ctx.name)
        label = f"{kind}: {ctx.name}"
        if spec is None:
            rows.append(Check(False, kind, registry.unknown(kind, ctx.name)))
            continue
        if spec.simulated:
            rows.append(Check(True, label, "simulated (demo world): touches nothing real"))
            continue
        if spec.build is None and kind == "deploy":
            continue  # doctor already reported that nothing can deploy
        for setting in spec.secret_settings:
            variable = str(ctx.settings.get(setting) or "")
            present = bool(variable and ctx.environ.get(variable))
            rows.append(Check(present, f"{kind}.{setting}", f"{variable} is {'set' if present else 'not set'}"))
        if spec.check is None:
            rows.append(Check(True, label, spec.summary))
            continue
        try:
            rows.extend(asyncio.run(_run(spec.check, ctx)))
        except MissingSecret as error:
            rows.append(Check(False, label, f"not checked: {error}"))
        except Exception as error:  # a check that could not run is never a pass
            rows.append(Check(False, label, f"not checked: {error.__class__.__name__}: {error}"))
    return rows
