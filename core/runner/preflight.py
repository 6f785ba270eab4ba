"""Pre-release checks: window, branches, CI, staging smoke test, notes, migrations."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ..config import Window
from ..model import ReleaseType
from ..sanitize import plain
from ..window import describe_window, window_status
from .steps import handler

if TYPE_CHECKING:
    from ..notes import ReleaseNotes
    from ..providers.base import SmokeResult
    from .context import StepContext


def _window(ctx: StepContext) -> Window:
    journaled = ctx.state.settings.get("window")
    if isinstance(journaled, dict):
        return Window(
            days=tuple(journaled.get("days", ("fri",))),
            start=str(journaled.get("start", "14:00")),
            end=str(journaled.get("end", "17:00")),
            timezone=str(journaled.get("timezone", "America/Los_Angeles")),
            always=bool(journaled.get("always", False)),
        )
    return ctx.config.release.window


@handler("check_window")
async def check_window(ctx: StepContext) -> None:
    if ctx.state.release_type is ReleaseType.HOTFIX:
        await ctx.passed("hotfix: no release window applies")
        return
    window = _window(ctx)
    inside, detail = window_status(window, datetime.fromtimestamp(ctx.clock.now(), ZoneInfo(window.timezone)))
    if inside:
        await ctx.passed(detail, {"window": describe_window(window)})
    elif ctx.runner.force:
        await ctx.passed(f"{detail}; released anyway with --force by {ctx.runner.policy.identity}", {"window": describe_window(window)})
    else:
        await ctx.waiting(f"{detail}; wait for the window or run with --force", {"window": describe_window(window)})


@handler("check_git")
async def check_git(ctx: StepContext) -> None:
    git = ctx.services.git
    data = ctx.state.settings.get("git", {})
    if git is None:
        await ctx.failed("no git repository: run shipdeck inside the product's repository or pass --repo")
        return
    evidence = {
        "previous release": data.get("previous_tag") or "none",
        "next version": ctx.state.tag,
        "cut from": f"{data.get('base_ref')} @ {str(data.get('base_commit', ''))[:10]}",
        "release branch": data.get("branch", ""),
    }
    await ctx.passed(f"{ctx.state.tag} from {data.get('base_ref')} (previous {data.get('previous_tag') or 'none'})", evidence)


@handler("check_ci")
async def check_ci(ctx: StepContext) -> None:
    """CI of the release commit; with a provider that can tell, open PRs into develop and staging's commit."""
    ci = ctx.services.ci
    commit = ctx.state.settings.get("git", {}).get("base_commit", "")
    if ci is None:
        await ctx.waiting(f"no CI provider configured: confirm CI is green on {commit[:10]} yourself (confirm)")
        return
    green, detail = await ci.status(commit)
    evidence = {"CI": detail}
    waits = await _pulls_and_staging(ctx, ci, commit, evidence)
    if green is False:
        await ctx.failed(detail, evidence)
    elif green is None:
        await ctx.waiting(f"CI status unknown: {detail}", evidence)
    elif waits:
        await ctx.waiting(f"{detail}, but " + "; ".join(waits), evidence)
    else:
        staging = evidence.get("staging", "")
        await ctx.passed(detail + (f"; staging {staging}" if staging.startswith("unknown") else ""), evidence)


async def _pulls_and_staging(ctx: StepContext, ci: Any, commit: str, evidence: dict[str, str]) -> list[str]:
    """Evidence from the optional CiStatus extras (found with getattr); returns what a person must settle."""
    from ..providers.base import ProviderError

    waits: list[str] = []
    develop = ctx.config.project.develop_branch
    open_pulls = getattr(ci, "open_pulls", None)
    if open_pulls is not None:
        try:
            pulls = await open_pulls(develop)
        except ProviderError as error:
            evidence[f"open PRs into {develop}"] = "unknown"
            waits.append(f"open pull requests into {develop} could not be listed: {error}")
        else:
            listed = ", ".join(f"#{p.number} {p.title}" for p in pulls[:10]) + (f" and {len(pulls) - 10} more" if len(pulls) > 10 else "")
            evidence[f"open PRs into {develop}"] = listed or "none"
            if pulls and ctx.state.release_type is not ReleaseType.HOTFIX:  # a hotfix is cut from main
                waits.append(f"{len(pulls)} pull request(s) into {develop} still open (all must be merged, or approve to release without them)")
    staging_commit = getattr(ci, "staging_commit", None)
    if staging_commit is not None:
        try:
            staging = await staging_commit("staging")
        except ProviderError as error:
            evidence["staging"] = f"unknown: {error}"
            return waits
        if staging is None:
            evidence["staging"] = "unknown: no successful GitHub Deployment to staging recorded"
        elif staging == commit:
            evidence["staging"] = f"runs {staging[:10]}, the release commit"
        else:
            evidence["staging"] = f"runs {staging[:10]}, not the release commit {commit[:10]}"
            if ctx.state.release_type is not ReleaseType.HOTFIX:
                waits.append(f"staging runs {staging[:10]}, not the release commit {commit[:10]}: deploy it to staging first")
    return waits


async def smoke(ctx: StepContext, environment: str, version: str | None = None) -> None:
    """Run the smoke checks against `environment`; every result is evidence, with its timing.

    `version` is the tag expected to run there (default: the release's), for runners that use it.
    """
    runner = ctx.services.smoke
    url = str(ctx.config.environments.get(environment, {}).get("url", ""))
    if runner is None:
        await ctx.waiting(f"no smoke provider configured: smoke test {environment} yourself and confirm")
        return
    run_version = getattr(runner, "run_version", None)  # optional (providers/base.py KnowsVersion)
    if run_version is not None:
        results = await run_version(environment, url, version if version is not None else ctx.state.tag)
    else:
        results = await runner.run(environment, url)
    if not results:
        await ctx.waiting(f"no smoke check ran against {environment}: check it yourself and confirm")
        return
    evidence = {r.name: smoke_evidence(r) for r in results}
    failed = [r for r in results if not r.passed]
    if failed:
        await ctx.failed(f"{failed[0].name} failed on {environment}: {plain(failed[0].detail)}", evidence)
    else:
        await ctx.passed(f"{len(results)}/{len(results)} critical paths pass on {environment}", evidence)


def smoke_evidence(result: SmokeResult) -> str:
    """One line for a check: its timing and, on failure, the request, the expectation and what came back.

    The provider cleans and masks its text; it is cleaned again here because any provider's
    text reaches the journal and the screen through this line.
    """
    took = f"in {result.duration:.2f}s"
    if result.passed:
        return f"ok {took}"
    parts = [f"FAILED {took}: {result.detail}"]
    if result.request and result.request not in result.detail:
        parts.append(f"request {result.request}")
    if result.expected:
        parts.append(f"expected {result.expected}")
    if result.got and result.got not in result.detail:
        parts.append(f"got {result.got}")
    return plain(" — ".join(parts))


@handler("smoke_staging")
async def smoke_staging(ctx: StepContext) -> None:
    await smoke(ctx, "staging")


@handler("smoke_production")
async def smoke_production(ctx: StepContext) -> None:
    await smoke(ctx, ctx.state.environment)


@handler("draft_notes")
async def draft_notes(ctx: StepContext) -> None:
    from ..notes import SECTIONS

    notes = await notes_of(ctx)
    if ctx.runner.notes_path is not None:
        await ctx.blocking(_write_notes, ctx.runner.notes_path, notes.to_markdown())
    counts = {heading: len(notes.section(name)) for name, (heading, _) in SECTIONS.items()}
    counts["Other changes"] = len(notes.section("other"))  # listed under Improvements, never dropped
    await ctx.passed(notes.summary(), {k: str(v) for k, v in counts.items()})  # "1 breaking change", not "changes"


def _write_notes(path: Any, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def notes_of(ctx: StepContext) -> ReleaseNotes:
    """The release's notes, off the event loop, with pull request titles from GitHub when the
    CI provider can look them up (the cut's CHANGELOG, the draft, the Release, the email)."""
    return await ctx.blocking(render_notes, ctx, pr_title_lookup(ctx))  # type: ignore[no-any-return]


def pr_title_lookup(ctx: StepContext) -> Callable[[Sequence[int]], Mapping[int, str]] | None:
    """A blocking lookup for the notes' worker thread, asking the CI provider on this loop.

    A failed lookup gives no titles: the notes fall back to the merge commit's own text.
    """
    lookup = getattr(ctx.services.ci, "pull_titles", None)
    if lookup is None:
        return None
    loop = asyncio.get_running_loop()

    def titles(numbers: Sequence[int]) -> Mapping[int, str]:
        future = asyncio.run_coroutine_threadsafe(lookup(list(numbers)), loop)
        try:
            return dict(future.result(timeout=60.0))
        except Exception:  # noqa: BLE001 — titles are a nicety; the notes never fail for them
            future.cancel()
            return {}

    return titles


def render_notes(ctx: StepContext, pr_titles: Callable[[Sequence[int]], Mapping[int, str]] | None = None) -> ReleaseNotes:
    from ..notes import notes_for_range

    assert ctx.services.repo_path is not None, "planned releases always have a repository"
    data = ctx.state.settings["git"]
    return notes_for_range(
        ctx.services.repo_path,
        data.get("previous_tag"),
        data["base_commit"],
        version=data["version"],
        tag=data["tag"],
        previous_tag=data.get("previous_tag"),
        date=datetime.fromtimestamp(ctx.state.started_at or ctx.clock.now()).date(),
        compare_url=ctx.config.project.compare_url,
        rules=ctx.config.notes.get("rules", ()),
        pr_titles=pr_titles,
    )


@handler("check_migrations")
async def check_migrations(ctx: StepContext) -> None:
    from ..migrations import check_migrations as check

    data = ctx.state.settings["git"]
    report = await ctx.blocking(check, ctx.services.repo_path, data.get("previous_tag"), data["base_commit"], ctx.config.migrations_dirs)
    # Keyed by operation too: squawk and the AST check can both find something on one line.
    evidence = {f"{f.file}:{f.line} {f.operation}": f"{f.detail} — {f.alternative}" for f in report.findings}
    evidence["squawk"] = report.squawk
    if not report.checked:
        await ctx.skipped(f"not checked: no Alembic migrations folder found (looked for {', '.join(report.searched)})")
        return
    if report.findings:
        await ctx.waiting(
            f"{len(report.findings)} migration finding(s) are not zero-downtime; an approver must waive with a reason",
            evidence,
        )
    else:
        await ctx.passed(f"{len(report.files)} migration file(s), all additive", evidence)
