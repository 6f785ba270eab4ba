"""Release notes speed on a large range: shipdeck vs plain ``git log`` vs git-cliff.

Generates (with ``git fast-import``) a repository with COMMITS commits between v1.0.0 and
v2.0.0, then times each tool over that range several times and prints medians and ratios
against plain ``git log``, side by side in one run. Not a timed test: figures are printed.

    .venv/bin/python benchmarks/notes_speed.py [--commits 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from shipdeck.core.notes import notes_for_range
from shipdeck.core.sandbox.demo_repo import git_env

_SUBJECTS = (
    "feat(tracker): board column {n}",
    "fix: crash when opening job {n}",
    "perf: faster query {n}",
    "refactor(api): tidy handler {n}",
    "Update README section {n}",
    "Fix typo in page {n}",
    "chore(deps): bump package {n}",
    "Merge pull request #{n} from org/feature/f{n}",
    "feat!: change payload {n}\n\nBREAKING CHANGE: field {n} renamed",
    "docs: explain setting {n} (#{n})",
)


def build_repository(root: Path, commits: int) -> Path:
    """A repo with one commit tagged v1.0.0, then ``commits`` commits up to v2.0.0."""
    repo = root / "big"
    env = git_env()
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], env=env, check=True)
    chunks: list[bytes] = []
    epoch = 1_700_000_000
    for index in range(commits + 1):
        message = "Initial commit\n" if index == 0 else _SUBJECTS[index % len(_SUBJECTS)].format(n=index) + "\n"
        raw_message = message.encode()
        content = f"line {index}\n".encode()
        parent = f"from :{index}\n" if index else ""
        chunks.append(
            b"commit refs/heads/main\nmark :%d\n" % (index + 1)
            + b"author Bench <bench@example.com> %d +0000\n" % (epoch + index)
            + b"committer Bench <bench@example.com> %d +0000\n" % (epoch + index)
            + b"data %d\n%s" % (len(raw_message), raw_message)
            + parent.encode()
            + b"M 100644 inline file%d.txt\ndata %d\n%s\n" % (index % 50, len(content), content)
        )
    chunks.append(b"reset refs/tags/v1.0.0\nfrom :1\n\n")
    chunks.append(b"reset refs/tags/v2.0.0\nfrom :%d\n\n" % (commits + 1))
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(chunks),
                   env=env, check=True)
    subprocess.run(["git", "-C", str(repo), "reset", "--quiet", "--hard", "main"], env=env, check=True)
    return repo


def median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # warm the page cache and imports before measuring
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = git_env()
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as temp:
        started = time.perf_counter()
        repo = build_repository(Path(temp), args.commits)
        print(f"generated {args.commits} commits in {time.perf_counter() - started:.2f} s")
        today = dt.date(2025, 10, 13)

        def shipdeck_notes() -> str:
            notes = notes_for_range(repo, "v1.0.0", "v2.0.0", version="2.0.0", tag="v2.0.0",
                                    date=today, compare_url="https://x/compare/{previous}...{tag}")
            return notes.to_markdown()

        def plain_git_log() -> bytes:
            return subprocess.run(
                ["git", "-C", str(repo), "log", "--format=%H%x00%P%x00%an%x00%ct%x00%s%x00%b",
                 "-z", "v1.0.0..v2.0.0"],
                capture_output=True, env=env, check=True,
            ).stdout

        results = {"git log (plain, subprocess)": median_seconds(plain_git_log, args.runs)}
        results["shipdeck notes_for_range"] = median_seconds(shipdeck_notes, args.runs)
        lines = shipdeck_notes().count("\n")
        cliff = shutil.which("git-cliff") or str(Path(sys.executable).parent / "git-cliff")
        if Path(cliff).exists():
            def git_cliff() -> bytes:
                return subprocess.run(
                    [cliff, "v1.0.0..v2.0.0", "--repository", str(repo)],
                    capture_output=True, env=env, check=True,
                ).stdout
            results["git-cliff 2.14.2"] = median_seconds(git_cliff, args.runs)
        else:
            print("git-cliff not installed (pip install git-cliff==2.14.2): skipped")

    baseline = results["git log (plain, subprocess)"]
    print(f"\nrange v1.0.0..v2.0.0, {args.commits} commits, median of {args.runs} runs "
          f"(shipdeck notes: {lines} markdown lines)")
    print(f"{'tool':32} {'median':>10} {'vs git log':>11}")
    for name, seconds in results.items():
        print(f"{name:32} {seconds * 1000:8.1f}ms {seconds / baseline:10.2f}x")
    if "git-cliff 2.14.2" in results:
        print(f"shipdeck is {results['git-cliff 2.14.2'] / results['shipdeck notes_for_range']:.1f}x "
              f"faster than git-cliff")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
