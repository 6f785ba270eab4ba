"""Datadog's entry in the provider registry: its `[metrics]` settings, build and doctor check.

The client itself is `datadog.py`; this module only declares what the config may say and how
the provider is made from it, so that loading a config never imports datadog-api-client.
"""

from __future__ import annotations

from typing import Any, Mapping

from .registry import BuildContext, Check, ProviderSpec, Setting, SettingError


def _series_queries(ctx: BuildContext) -> dict[str, Any]:
    from .datadog_wire import SeriesQuery

    return {name: SeriesQuery.from_settings(query) for name, query in ctx.config.series_queries.items()}


def _check_series(section: Mapping[str, Any]) -> None:
    """Every watched series says what to ask Datadog (`query`, or `queries` with a `formula`)."""
    from .datadog_wire import SeriesQuery

    series = section.get("series") or {}
    if not isinstance(series, Mapping) or not series:
        raise SettingError("series", "Datadog watches the series under [metrics.series.NAME]; none is configured")
    for name, table in series.items():
        if not isinstance(table, Mapping):
            continue  # the config loader reports a series that is not a table
        try:
            SeriesQuery.from_settings({k: table[k] for k in ("query", "queries", "formula") if k in table})
        except ValueError as error:
            raise SettingError(f"series.{name}", str(error)) from None


def build(ctx: BuildContext) -> Any:
    from .datadog import DatadogMetrics

    settings = ctx.settings
    return DatadogMetrics(
        url=settings["url"] or None,
        site=settings["site"],
        api_key=ctx.secret("api_key_env"),
        app_key=ctx.secret("app_key_env"),
        series=_series_queries(ctx),
        service=settings["service"] or ctx.config.project.name,
        environment=ctx.environment,
        timeout=settings["timeout"],
        interval=ctx.config.metrics_interval,
        # A series quiet for longer than blind_after must read as no data, not its last value.
        lookback=min(settings["lookback"], ctx.config.watch.blind_after),
    )


async def check(ctx: BuildContext) -> list[Check]:
    provider = build(ctx)
    try:
        return [Check(ok, what, detail) for ok, what, detail in await provider.check()]
    finally:
        provider.close()


PROVIDERS = (
    ProviderSpec(
        "metrics",
        "datadog",
        "Datadog metrics (one query per poll), deploy markers and DORA deployments",
        {
            "site": Setting("str", default="datadoghq.com", help="your Datadog site: datadoghq.com, datadoghq.eu, us3.datadoghq.com, …"),
            "url": Setting("url", default="", help="base URL override (tests and the demo point it at a loopback fake); wins over site"),
            "api_key_env": Setting("env", default="DD_API_KEY", help="the environment variable holding the API key"),
            "app_key_env": Setting("env", default="DD_APP_KEY", help="the environment variable holding the application key"),
            "service": Setting("str", default="", help="Unified Service Tagging service for deploy markers (default: project name)"),
            "timeout": Setting("duration", default=10.0, minimum=0.1, help="per request, and the deadline of a poll with its retries"),
            "lookback": Setting("duration", default=120.0, minimum=1.0, help="how old the newest value may be (capped at watch.blind_after)"),
        },
        build=build,
        check=check,
        check_section=_check_series,
        example={
            "provider": "datadog",
            "site": "datadoghq.com",
            "api_key_env": "DD_API_KEY",
            "app_key_env": "DD_APP_KEY",
            "interval": "10s",
        },
    ),
)
