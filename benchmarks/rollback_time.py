"""Rollback wall time, from the decision to production restored, and shipdeck's share of it.

A real `shipdeck release --auto` in a production config (no sandbox) whose new version
regresses: the fake Datadog sees the breach, the engine decides to roll back, and the
deployer puts the previous version back. From the journal: the decision (`rollback_requested`)
to production restored (`production_changed` to the previous version); from the deployer's
own record, how long its deploy took. shipdeck's overhead is the difference.

    .venv/bin/python benchmarks/rollback_time.py [--runs 3] [--deploy-seconds 0.5]

Deployers measured: the command deployer (a real script). Others join as their fakes allow.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback worlds the tests use

from production_world import production_world, release_confirming  # noqa: E402


def one_run(deploy_seconds: float) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder, production_world(Path(folder), scenario="regression") as world:
        done = release_confirming(world, DEPLOY_SECONDS=str(deploy_seconds))
        if done.returncode != 3:
            raise SystemExit(f"expected a rollback (exit 3), got {done.returncode}: {done.stderr[-500:]}")
        journal = sorted((world.root / "state").glob("*/production/releases/*.jsonl"))[-1]
        events = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
        decided = next(e["at"] for e in events if e["kind"] == "rollback_requested")
        restored = next(e["at"] for e in events if e["kind"] == "production_changed" and e["data"]["version"] == "v1.3.0")
        started = float(world.deploys()[-1].split()[3])
        finished = float((world.root / "production.log").read_text().splitlines()[-1].split()[0])
        return restored - decided, finished - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deploy-seconds", type=float, default=0.5, help="how long the deploy script takes")
    args = parser.parse_args()
    totals, deploys = [], []
    for _ in range(args.runs):
        total, deploy = one_run(args.deploy_seconds)
        totals.append(total)
        deploys.append(deploy)
    total, deploy = statistics.median(totals), statistics.median(deploys)
    print(f"{'deployer':<10} {'decision → restored':>20} {'deploy system':>14} {'shipdeck overhead':>18}  (median of {args.runs})")
    print(f"{'command':<10} {total:>19.3f}s {deploy:>13.3f}s {total - deploy:>17.3f}s")
    print(f"reference process budget: 300 s; shipdeck's share: {100 * (total - deploy) / 300:.2f} % of it")


if __name__ == "__main__":
    main()
