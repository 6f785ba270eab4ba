"""Rollback wall time, from the decision to production restored, and shipdeck's share of it.

A real `shipdeck release --auto` in a production config (no sandbox) whose new version
regresses: the fake Datadog sees the breach, the engine decides to roll back, and the
deployer puts the previous version back. From the journal: the decision (`rollback_requested`)
to production restored (`production_changed` to the previous version); from the deployer's
own record, how long its deploy took. shipdeck's overhead is the difference.

    .venv/bin/python benchmarks/rollback_time.py [--runs 3] [--deploy-seconds 0.5]

Deployers measured:
- command: a real `shipdeck release --auto` whose script takes --deploy-seconds;
- ecs: the ECS deployer against moto's server, the rollout scripted in moto's backend (each
  step --step seconds), rolling back with the restore point (the exact old task definition);
- github-actions: the Actions deployer against the loopback GitHub fake, whose run's steps
  take --step seconds each.
For the last two the deploy system's share is what the fake spent by design; the rest is
shipdeck's (and the client library's) own.
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


def ecs_run(step: float) -> tuple[float, float]:
    import asyncio
    import time

    from fakes.aws_moto import moto_server, reset
    from test_ecs import World

    with moto_server() as url:
        reset(url)
        world = World(url, "complete", step)
        try:
            deployer = world.deployer()
            before = asyncio.run(deployer.running())
            asyncio.run(deployer.deploy("v1.1.0", "bench:deploy:1", world.progress))
            decided = time.monotonic()
            asyncio.run(deployer.deploy("v1.0.0", "bench:rollback:1", world.progress, restore=before.restore))
            restored = time.monotonic()
            back_on_old = world.rollouts.started_at[world.first] - decided
            return restored - decided, (restored - decided) - back_on_old
        finally:
            world.rollouts.stop()


def github_run(step: float) -> tuple[float, float]:
    import asyncio
    import time

    from fakes.github_fake import running_fake
    from test_github_actions import TOKEN, deploy

    with running_fake(token=TOKEN, step_seconds=step) as fake:
        asyncio.run(deploy(fake, "v1.4.0", key="bench:deploy:1"))
        decided = time.monotonic()
        asyncio.run(deploy(fake, "v1.3.0", key="bench:rollback:1"))
        total = time.monotonic() - decided
        steps = sum(len(s) for s in fake.jobs.values()) // 2  # the rollback run's own steps
        return total, steps * step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deploy-seconds", type=float, default=0.5, help="how long the deploy script takes")
    parser.add_argument("--step", type=float, default=0.05, help="each step of the fakes' rollouts and runs")
    args = parser.parse_args()
    runs = {
        "command": lambda: one_run(args.deploy_seconds),
        "ecs": lambda: ecs_run(args.step),
        "github-actions": lambda: github_run(args.step),
    }
    print(f"{'deployer':<15} {'decision → restored':>20} {'deploy system':>14} {'shipdeck overhead':>18}  (median of {args.runs})")
    worst = 0.0
    for name, run in runs.items():
        measured = [run() for _ in range(args.runs)]
        total = statistics.median(m[0] for m in measured)
        deploy = statistics.median(m[1] for m in measured)
        worst = max(worst, total - deploy)
        print(f"{name:<15} {total:>19.3f}s {deploy:>13.3f}s {total - deploy:>17.3f}s")
    print(f"reference process budget: 300 s; shipdeck's largest share: {100 * worst / 300:.2f} % of it")


if __name__ == "__main__":
    main()
