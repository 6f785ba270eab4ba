"""`shipdeck doctor` for Datadog: reachable, the API key valid, the application key allowed to
query, every series answering — each as its own row, and a row that could not be checked is
never ok."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from .datadog_wire import VALIDATE_ENDPOINT, DatadogError

if TYPE_CHECKING:
    from .datadog import DatadogMetrics


async def doctor_rows(provider: DatadogMetrics) -> list[tuple[bool, str, str]]:
    """`shipdeck doctor`: (ok, what, detail) rows; a check that could not run is not ok."""
    reach = f"Datadog API reachable ({provider.host})"
    api_row = f"Datadog API key ({provider._api_key.name})"
    app_row = f"Datadog application key ({provider._app_key.name}) may query metrics"
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi

    def validate(client: Any) -> Any:
        return AuthenticationApi(client).validate()  # type: ignore[no-untyped-call]

    validated = await asyncio.to_thread(provider._call_blocking, validate, provider.timeout)
    if validated.kind == "ok":
        rows = [(True, reach, f"answered {VALIDATE_ENDPOINT}"), (True, api_row, "valid")]
    elif validated.status in (401, 403):
        rows = [(True, reach, f"answered {VALIDATE_ENDPOINT}"), (False, api_row, f"rejected ({validated.status}): {provider._api_key.name} holds no valid API key for {provider.host}")]
    elif validated.status is not None:
        rows = [(True, reach, f"answered {validated.status}"), (False, api_row, f"not checked: {validated.detail}")]
    else:
        rows = [
            (False, reach, f"{validated.detail}; check the network path to it and [metrics] site / url"),
            (False, api_row, "not checked: the API did not answer"),
            (False, app_row, "not checked: the API did not answer"),
        ]
        return rows
    if not provider.series:
        return rows + [(False, app_row, "not checked: no [metrics.series.*] configured")]
    names = list(provider.series)
    try:
        points = await provider.latest(names, time.time())
    except DatadogError as error:
        detail = (
            f"refused ({error.status}): the key in {provider._app_key.name} is wrong or lacks the timeseries_query permission"
            if error.status in (401, 403)
            else str(error)
        )
        return rows + [(False, app_row, detail)]
    rows.append((True, app_row, f"{len(names)} series answered in one request"))
    silent = [point.series for point in points if point.value is None]
    if silent:
        rows.append((False, "every series has data", f"no data in the last {provider.lookback:g}s for {', '.join(silent)}: check those queries"))
    else:
        rows.append((True, "every series has data", f"{len(names)} of {len(names)}"))
    return rows
