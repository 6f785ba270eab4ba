"""Release notes speed and memory on a large range: shipdeck vs plain ``git log`` vs git-cliff.

Generates (with ``git fast-import``) a repository with COMMITS commits between v1.0.0 and
v2.0.0 shaped like real histories: scoped conventional commits, gitmoji, version bumps,
squash merges with PR numbers, and real ``--no-ff`` pull request merges (one in ten commits
is on a merged branch, some with ``develop`` merged into them). Times each tool over that
range several times and prints medians and ratios against plain ``git log``, and each tool's
peak memory (max RSS of a fresh process, from ``wait4``; for shipdeck also the Python heap's
peak from tracemalloc). Not a timed test: figures are printed.

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
import tracemalloc
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
    "✨ Add widget {n} (#{n})",
    "feat!: change payload {n}\n\nBREAKING CHANGE: field {n} renamed",
    "docs: explain setting {n} (#{n})",
    "feat(search): deprecate filter {n}",
    "bump: version 1.{n}.0 → 1.{n}.1",
)
# Run in a fresh Python so its peak memory is its own, as git-cliff's is.
_NOTES_CHILD = """
import sys
from shipdeck.core.notes import notes_for_range
notes = notes_for_range(sys.argv[1], "v1.0.0", "v2.0.0", version="2.0.0", tag="v2.0.0")
notes.to_markdown()
"""


def build_repository(root: Path, commits: int) -> Path:
    """A repo with one commit tagged v1.0.0, then ``commits`` commits up to v2.0.0."""
    repo = root / "big"
    env = git_env()
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], env=env, check=True)
    chunks: list[bytes] = []
    epoch = 1_700_000_000
    mark = 0
    main_tip = 0

    def commit(branch: str, message: str, parent: int, merge: int = 0) -> int:
        nonlocal mark
        mark += 1
        raw = message.encode()
        content = f"line {mark}\n".encode()
        chunks.append(
            b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), mark)
            + b"author Bench <bench@example.com> %d +0000\n" % (epoch + mark)
            + b"committer Bench <bench@example.com> %d +0000\n" % (epoch + mark)
            + b"data %d\n%s" % (len(raw), raw)
            + (b"from :%d\n" % parent if parent else b"")
            + (b"merge :%d\n" % merge if merge else b"")
            + b"M 100644 inline file%d.txt\ndata %d\n%s\n" % (mark % 50, len(content), content)
        )
        return mark

    main_tip = commit("main", "Initial commit\n", 0)
    first = main_tip
    written = 0
    while written < commits:
        n = written + 1
        if n % 10 == 0 and commits - written >= 4:
            # A pull request: two commits on a branch (one in three also merges develop in).
            side = commit(f"pr{n}", f"feat(ui): part one of {n}\n", main_tip)
            if n % 30 == 0:
                side = commit(f"pr{n}", "Merge branch 'develop' into feature\n", side, main_tip)
                written += 1
            side = commit(f"pr{n}", f"fix(ui): part two of {n}\n", side)
            main_tip = commit("main", f"Merge pull request #{n} from org/pr{n}\n\nWidget {n}\n", main_tip, side)
            written += 3
            continue
        main_tip = commit("main", _SUBJECTS[n % len(_SUBJECTS)].format(n=n) + "\n", main_tip)
        written += 1
    chunks.append(b"reset refs/tags/v1.0.0\nfrom :%d\n\n" % first)
    chunks.append(b"reset refs/tags/v2.0.0\nfrom :%d\n\n" % main_tip)
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


def peak_rss_mib(argv: list[str], env: dict[str, str]) -> float | None:
    """Max resident set of ``argv`` and the children it waits for, in MiB; None without GNU time.

    Through /usr/bin/time, not our own wait4: Linux carries a process's peak RSS across
    fork and exec, so a child started from this (large) process would report our size.
    """
    if not Path("/usr/bin/time").exists():
        return None
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, check=True)
    return int(result.stderr.split()[-1]) / 1024  # kilobytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = git_env()
    memory: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as temp:
        started = time.perf_counter()
        repo = build_repository(Path(temp), args.commits)
        print(f"generated {args.commits} commits in {time.perf_counter() - started:.2f} s")
        today = dt.date(2025, 10, 13)

        def shipdeck_notes() -> str:
            notes = notes_for_range(repo, "v1.0.0", "v2.0.0", version="2.0.0", tag="v2.0.0",
                                    date=today, compare_url="https://x/compare/{previous}...{tag}")
            return notes.to_markdown()

        git_log = ["git", "-C", str(repo), "log", "--format=%H%x00%P%x00%an%x00%ct%x00%s%x00%b",
                   "-z", "v1.0.0..v2.0.0"]

        def plain_git_log() -> bytes:
            return subprocess.run(git_log, capture_output=True, env=env, check=True).stdout

        results = {"git log (plain, subprocess)": median_seconds(plain_git_log, args.runs)}
        results["shipdeck notes_for_range"] = median_seconds(shipdeck_notes, args.runs)
        tracemalloc.start()
        markdown = shipdeck_notes()
        python_heap = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        memory["git log (plain, subprocess)"] = peak_rss_mib(git_log, env)
        memory["shipdeck notes_for_range"] = peak_rss_mib([sys.executable, "-c", _NOTES_CHILD, str(repo)], env)
        cliff = shutil.which("git-cliff") or str(Path(sys.executable).parent / "git-cliff")
        cliff_name = "git-cliff"
        if Path(cliff).exists():
            version = subprocess.run([cliff, "--version"], capture_output=True, text=True, check=False).stdout.split()
            cliff_name = f"git-cliff {version[-1] if version else '?'}"
            cliff_argv = [cliff, "v1.0.0..v2.0.0", "--repository", str(repo)]

            def git_cliff() -> bytes:
                return subprocess.run(cliff_argv, capture_output=True, env=env, check=True).stdout

            results[cliff_name] = median_seconds(git_cliff, args.runs)
            memory[cliff_name] = peak_rss_mib(cliff_argv, env)
        else:
            print("git-cliff: not installed (pip install -e '.[bench]' to compare)")

    baseline = results["git log (plain, subprocess)"]
    print(f"\nrange v1.0.0..v2.0.0, {args.commits} commits, median of {args.runs} runs "
          f"(shipdeck notes: {markdown.count(chr(10))} markdown lines)")
    print(f"{'tool':32} {'median':>10} {'vs git log':>11} {'peak RSS':>10}")
    for name, seconds in results.items():
        rss = memory[name]
        shown = f"{rss:7.1f}MiB" if rss is not None else "n/a (no /usr/bin/time)"
        print(f"{name:32} {seconds * 1000:8.1f}ms {seconds / baseline:10.2f}x {shown}")
    print("peak RSS is the process tree's: shipdeck's includes the git log it runs")
    print(f"shipdeck's Python heap peak (tracemalloc, in-process): {python_heap:.1f} MiB")
    if cliff_name in results:
        print(f"shipdeck is {results[cliff_name] / results['shipdeck notes_for_range']:.1f}x "
              f"faster than {cliff_name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
