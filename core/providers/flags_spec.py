"""What every flag provider declares alike: its settings, how it is built, its doctor check.

A flag backend takes `url`, `token_env`, `project`, `environment` and `timeout`; only the
defaults and the words differ between Unleash and LaunchDarkly.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from ..ramp_config import check_ramp_section, ramp_entries
from .registry import BuildContext, Check, ProviderSpec, Setting


def flag_provider(
    name: str,
    summary: str,
    backend: Callable[..., Any],
    *,
    url: Setting,
    token_env: str,
    token_help: str,
    example: Mapping[str, Any],
) -> ProviderSpec:
    """The ProviderSpec of a flag backend class taking url, token, project, environment, timeout."""

    def build(ctx: BuildContext) -> Any:
        settings = ctx.settings
        return backend(
            url=settings["url"],
            token=ctx.secret("token_env"),
            project=settings["project"],
            environment=settings["environment"] or ctx.environment,
            timeout=settings["timeout"],
        )

    async def check(ctx: BuildContext) -> list[Check]:
        client = build(ctx)
        try:
            checks: list[Check] = await client.check([entry.flag for entry in ramp_entries(ctx.config)])
            return checks
        finally:
            await client.aclose()

    return ProviderSpec(
        "flags",
        name,
        summary,
        {
            "url": url,
            "token_env": Setting("env", default=token_env, help=token_help),
            "project": Setting("str", default="default", help="the project of the ramped flags"),
            "environment": Setting("str", default="", help="the flag system's environment (default: the release's environment)"),
            "timeout": Setting("duration", default=10.0, minimum=0.1, help="per request"),
        },
        build=build,
        check=check,
        check_section=check_ramp_section,
        example=example,
    )
