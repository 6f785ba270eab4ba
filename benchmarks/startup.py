"""Start-up time of ``shipdeck --version`` and ``shipdeck status`` against ``python -c pass``.

Each command runs RUNS times, interleaved round by round (so a noisy moment hits all of them
alike), after one unmeasured warm-up round; the table gives medians and ratios to the bare
interpreter, side by side in one run. ``status`` runs in a temporary folder holding the
``shipdeck.toml`` that ``shipdeck init`` writes, with an empty temporary state folder.
Bytecode is cached (in the temporary folder) as it is for an installed package; with
``--no-bytecode-cache`` (PYTHONDONTWRITEBYTECODE=1) shipdeck's modules are compiled on every
run unless the checkout already holds their ``__pycache__``.
With ``--importtime`` it also lists the slowest imports of each command (``python -X importtime``).

    .venv/bin/python benchmarks/startup.py [--runs 15] [--importtime] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shipdeck.core.config_writer import default_sections, render
from shipdeck.core.repo_facts import RepoFacts


def commands(python: str, console_script: str) -> dict[str, list[str]]:
    return {
        "python -c pass": [python, "-c", "pass"],
        "shipdeck --version": [console_script, "--version"],
        "shipdeck status": [console_script, "status"],
        "python -m shipdeck.tui.cli --version": [python, "-m", "shipdeck.tui.cli", "--version"],
        "python -m shipdeck.tui.cli status": [python, "-m", "shipdeck.tui.cli", "status"],
    }


def wall_time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return elapsed


def measure(runs: int, named: dict[str, list[str]], cwd: Path, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in named}
    for round_number in range(runs + 1):
        for name, argv in named.items():
            elapsed = wall_time(argv, cwd, env)
            if round_number:  # round 0 warms the page cache and __pycache__
                times[name].append(elapsed)
    return times


def slowest_imports(argv: list[str], cwd: Path, env: dict[str, str], count: int) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of the top-level imports a command spends most on."""
    result = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    rows: list[tuple[int, int, str]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, module = line.removeprefix("import time:").split("|")
        if module.startswith("  "):  # nested: counted in the cumulative time of what imported it
            continue
        rows.append((int(cumulative_us), int(self_us), module.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="also list each command's slowest imports")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="compile every module on every run (PYTHONDONTWRITEBYTECODE)")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    console_script = bin_dir / "shipdeck"
    if not console_script.exists():
        raise SystemExit(f"no console script at {console_script}: install the project into this interpreter's environment")

    with tempfile.TemporaryDirectory(prefix="shipdeck-startup-") as folder:
        work = Path(folder)
        (work / "shipdeck.toml").write_text(render(default_sections(RepoFacts.assumed("product", "git@github.com:org/product.git"), "alice")), encoding="utf-8")
        env = {**os.environ, "SHIPDECK_STATE_DIR": str(work / "state"), "SHIPDECK_USER": "bench", "GIT_CONFIG_GLOBAL": os.devnull}
        env.pop("PYTHONPROFILEIMPORTTIME", None)
        # Measure what an installed shipdeck costs: with bytecode cached (in the temp folder, so
        # nothing is written into the checkout), unless --no-bytecode-cache asks for the other case.
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"  # the standard library keeps its own cached bytecode
            env.pop("PYTHONPYCACHEPREFIX", None)
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        named = commands(sys.executable, str(console_script))
        times = measure(args.runs, named, work, env)

        baseline = statistics.median(times["python -c pass"])
        cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
        print(f"start-up, median of {args.runs} interleaved runs, {cache} ({sys.executable}, Python {sys.version.split()[0]})\n")
        print(f"{'command':<38} {'median':>9} {'min':>9} {'max':>9} {'vs python -c pass':>18}")
        print("-" * 87)
        for name, samples in times.items():
            median = statistics.median(samples)
            print(
                f"{name:<38} {median * 1000:>7.1f}ms {min(samples) * 1000:>7.1f}ms {max(samples) * 1000:>7.1f}ms {median / baseline:>17.2f}x"
            )

        if args.importtime:
            for name in ("shipdeck --version", "shipdeck status"):
                argv = [sys.executable, "-m", "shipdeck.tui.cli", *named[name][1:]]
                print(f"\nslowest top-level imports of `{name}` (python -X importtime; cumulative / self):")
                for cumulative_us, self_us, module in slowest_imports(argv, work, env, 12):
                    print(f"  {cumulative_us / 1000:>7.1f}ms {self_us / 1000:>7.1f}ms  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
