"""Datadog requests and CPU per poll: shipdeck's one combined query against one query per series.

Both clients are the real datadog-api-client driven by `DatadogMetrics` against the same
loopback fake, in the same run: "combined" is `latest(all series)` (one request), "naive" is
`latest([series])` for each series in turn (what a client without formulas over several
queries does). The fake runs in a child process, so the CPU time measured here (this
process's `process_time`) is the client side only. Rounds alternate between the two clients
after one unmeasured warm-up round; the table gives medians per poll and naive/combined ratios.

    .venv/bin/python benchmarks/datadog_requests.py [--polls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Coroutine

from shipdeck.core.providers.datadog import DatadogMetrics, SeriesQuery
from shipdeck.core.sandbox.datadog_fake import QUERY_PATH
from shipdeck.core.secrets import Secret

QUERY = f"POST {QUERY_PATH}"
NOW = 1_700_000_000.0

# The fake, in its own process: prints its URL, then answers "count" with its request counts.
FAKE_PROCESS = """
import json, sys
from shipdeck.core.sandbox.datadog_fake import FakeDatadog
fake = FakeDatadog(api_key="bench-api", app_key="bench-app", initial_tag="v1", rate_limit=10**9)
print(fake.start(), flush=True)
for line in sys.stdin:
    print(json.dumps(dict(fake.requests)), flush=True)
fake.stop()
"""


def series_of(count: int) -> dict[str, SeriesQuery]:
    """`count` series shaped like a real config: a ratio of two counts, latencies, a queue depth."""
    base = {
        "error_rate": SeriesQuery(
            {"errors": "sum:trace.http.request.errors{service:web}.as_count()", "hits": "sum:trace.http.request.hits{service:web}.as_count()"},
            "100 * errors / hits",
        ),
        "p95_latency": SeriesQuery.single("p95:trace.http.request{service:web}"),
        "queue_depth": SeriesQuery.single("avg:celery.queue.depth{service:web}"),
    }
    extra = {f"p95_shard_{n}": SeriesQuery.single(f"p95:trace.http.request{{service:web,shard:{n}}}") for n in range(count - len(base))}
    return {**base, **extra}


class FakeProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", FAKE_PROCESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def requests(self) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(json.loads(self.process.stdout.readline()).get(QUERY, 0))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


async def measure(fake: FakeProcess, poll: Callable[[int], Coroutine[Any, Any, object]], polls: int) -> tuple[float, float, float]:
    """(requests, CPU seconds, wall seconds) per poll, medians over `polls` polls."""
    cpu, wall = [], []
    requests_before = fake.requests()
    for number in range(polls):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        await poll(number)
        cpu.append(time.process_time() - cpu_started)
        wall.append(time.perf_counter() - wall_started)
    return (fake.requests() - requests_before) / polls, statistics.median(cpu), statistics.median(wall)


async def run(fake: FakeProcess, polls: int) -> list[tuple[int, tuple[float, ...], tuple[float, ...]]]:
    """One event loop for the whole run, as the runner has: the loop's set-up is not a poll's cost."""
    rows = []
    for count in (3, 12):
        series = series_of(count)
        names = list(series)
        datadog = DatadogMetrics(url=fake.url, api_key=Secret("DD_API_KEY", "bench-api"), app_key=Secret("DD_APP_KEY", "bench-app"),
                                 series=series, service="web", environment="production", timeout=10.0)

        async def combined(number: int) -> object:
            return await datadog.latest(names, NOW + 10 * number)

        async def naive(number: int) -> object:
            return [await datadog.latest([name], NOW + 10 * number) for name in names]

        await measure(fake, combined, 2)  # warm-up: client built, connection open, models imported
        await measure(fake, naive, 2)
        results: dict[str, list[tuple[float, float, float]]] = {"combined": [], "naive": []}
        for _ in range(max(1, polls // 5)):  # alternate in blocks so a noisy moment hits both
            results["combined"].append(await measure(fake, combined, 5))
            results["naive"].append(await measure(fake, naive, 5))
        summary = {name: tuple(statistics.median(values) for values in zip(*measured)) for name, measured in results.items()}
        rows.append((count, summary["combined"], summary["naive"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=30, help="measured polls per client and size (default 30)")
    arguments = parser.parse_args()
    fake = FakeProcess()
    try:
        rows = asyncio.run(run(fake, arguments.polls))
    finally:
        fake.close()

    print(f"Datadog polls against the loopback fake, medians of {arguments.polls} polls per cell (client CPU only)\n")
    print(f"{'series':>6}  {'requests/poll':>22}  {'CPU ms/poll':>28}  {'wall ms/poll':>28}")
    print(f"{'':>6}  {'shipdeck':>8} {'naive':>6} {'ratio':>6}  {'shipdeck':>8} {'naive':>8} {'ratio':>9}  {'shipdeck':>8} {'naive':>8} {'ratio':>9}")
    for count, (c_requests, c_cpu, c_wall), (n_requests, n_cpu, n_wall) in rows:
        print(
            f"{count:>6}  {c_requests:>8.0f} {n_requests:>6.0f} {n_requests / c_requests:>5.1f}x  "
            f"{c_cpu * 1000:>8.2f} {n_cpu * 1000:>8.2f} {n_cpu / c_cpu:>8.1f}x  "
            f"{c_wall * 1000:>8.2f} {n_wall * 1000:>8.2f} {n_wall / c_wall:>8.1f}x"
        )
    if any(c_requests != 1 for _, (c_requests, _, _), _ in rows):
        raise SystemExit("shipdeck made more than one Datadog request per poll")


if __name__ == "__main__":
    main()
