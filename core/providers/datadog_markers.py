"""Markers in Datadog: an event and a DORA deployment per deploy or rollback, an event per flag change.

Blocking helpers run by `DatadogMetrics.mark` in a worker thread with the intake client (the
one with the client's own retries, bounded by `bounded_client_retry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MarkKind = Literal["deploy", "rollback"]

MARKER_RETRY_WAIT = 5.0  # the longest a marker post waits for a rate-limit reset before giving up


@dataclass(frozen=True)
class Deployment:
    """What one marker says. `version` runs after the action, `previous` ran before it."""

    service: str
    environment: str
    kind: MarkKind
    version: str
    previous: str
    started_at: float
    finished_at: float
    identifier: str  # the stable DORA id (datadog_wire.dora_id)

    def tags(self) -> list[str]:
        # Unified Service Tagging: Datadog's deployment tracking keys on service, env and version.
        return [f"service:{self.service}", f"env:{self.environment}", f"version:{self.version}", "source:shipdeck", f"shipdeck_kind:{self.kind}"]


def post_event(client: Any, deployment: Deployment) -> None:
    """POST /api/v1/events: the marker on Datadog's graphs. Raises the client's errors."""
    from datadog_api_client.v1.api.events_api import EventsApi
    from datadog_api_client.v1.model.event_alert_type import EventAlertType
    from datadog_api_client.v1.model.event_create_request import EventCreateRequest

    d = deployment
    if d.kind == "deploy":
        title = f"Deployed {d.service} {d.version} to {d.environment}"
        text = f"{d.service} {d.previous or '(nothing)'} -> {d.version} on {d.environment}, released with shipdeck."
    else:
        title = f"Rolled back {d.service} to {d.version} on {d.environment}"
        text = f"{d.service} {d.previous} -> {d.version} on {d.environment}: rolled back with shipdeck."
    EventsApi(client).create_event(  # type: ignore[no-untyped-call]
        body=EventCreateRequest(
            title=title[:100],
            text=text,
            tags=d.tags(),
            alert_type=EventAlertType.INFO if d.kind == "deploy" else EventAlertType.WARNING,
            date_happened=int(d.finished_at),
            aggregation_key=d.identifier[:100],
            source_type_name="shipdeck",
        )
    )


@dataclass(frozen=True)
class FlagChange:
    """What one flag marker says: `flag` moved from one ramp stage to another while `version` ran.

    A flag change alters production without a deploy, so it is an event on the graphs (where a
    breach that follows it can be read against it) and never a DORA deployment.
    """

    service: str
    environment: str
    flag: str
    from_stage: str
    to_stage: str
    version: str
    at: float
    identifier: str  # stable per journaled change: the event's aggregation key

    def tags(self) -> list[str]:
        return [
            f"service:{self.service}", f"env:{self.environment}", f"version:{self.version}", "source:shipdeck",
            "shipdeck_kind:flag", f"flag:{self.flag}", f"flag_stage:{self.to_stage}",
        ]


def post_flag_event(client: Any, change: FlagChange) -> None:
    """POST /api/v1/events: a flag change marker on Datadog's graphs. Raises the client's errors."""
    from datadog_api_client.v1.api.events_api import EventsApi
    from datadog_api_client.v1.model.event_alert_type import EventAlertType
    from datadog_api_client.v1.model.event_create_request import EventCreateRequest

    c = change
    version = f" ({c.version})" if c.version else ""
    EventsApi(client).create_event(  # type: ignore[no-untyped-call]
        body=EventCreateRequest(
            title=f"Flag {c.flag}: {c.from_stage} -> {c.to_stage} on {c.environment}"[:100],
            text=f"{c.service}{version} on {c.environment}: feature flag {c.flag} moved from {c.from_stage} to {c.to_stage} by shipdeck.",
            tags=c.tags(),
            alert_type=EventAlertType.INFO,
            date_happened=int(c.at),
            aggregation_key=c.identifier[:100],
            source_type_name="shipdeck",
        )
    )


def post_dora(client: Any, deployment: Deployment) -> None:
    """POST /api/v2/dora/deployment with the stable id, so a retried POST counts once."""
    from datadog_api_client.v2.api.dora_metrics_api import DORAMetricsApi
    from datadog_api_client.v2.model.dora_deployment_request import DORADeploymentRequest
    from datadog_api_client.v2.model.dora_deployment_request_attributes import DORADeploymentRequestAttributes
    from datadog_api_client.v2.model.dora_deployment_request_data import DORADeploymentRequestData

    d = deployment
    tags = [f"shipdeck_kind:{d.kind}"] + ([f"previous_version:{d.previous}"] if d.previous else [])
    DORAMetricsApi(client).create_dora_deployment(  # type: ignore[no-untyped-call]
        body=DORADeploymentRequest(
            data=DORADeploymentRequestData(
                attributes=DORADeploymentRequestAttributes(
                    id=d.identifier,
                    service=d.service,
                    env=d.environment,
                    version=d.version,
                    started_at=int(d.started_at * 1_000_000_000),
                    finished_at=int(d.finished_at * 1_000_000_000),
                    custom_tags=tags,
                )
            )
        )
    )


def bounded_client_retry() -> Any:
    """The client's own retry (enable_retry's ClientRetry: 408/429/5xx, POST included) with a bound.

    ClientRetry sleeps `X-RateLimit-Reset` seconds before any retry whose answer carries that
    header, a 500 included, which can be most of an hour; past MARKER_RETRY_WAIT it backs off
    briefly instead, and the final answer is returned (an HTTP status, not a urllib3 error).
    """
    from datadog_api_client.rest import ClientRetry

    class BoundedRetry(ClientRetry):
        def get_retry_after(self, response: Any) -> float | None:
            after: float | None = super().get_retry_after(response)  # type: ignore[no-untyped-call]
            return after if after is not None and after <= MARKER_RETRY_WAIT else None

    return BoundedRetry(total=2, backoff_factor=0.5, raise_on_status=False)
