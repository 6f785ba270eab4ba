"""Post-release: publish the notes, merge the release branch back. Never touches production."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import Intent
from .effects import Effect
from .steps import git_of, git_plan, handler

if TYPE_CHECKING:
    from .context import StepContext


@handler("publish_notes")
async def publish_notes(ctx: StepContext) -> None:
    """The notes are in CHANGELOG.md and the tag already; a CI provider that can also publishes a GitHub Release."""
    data = ctx.state.settings.get("git", {})
    tag = ctx.state.tag
    local = f"CHANGELOG.md on {data.get('branch', 'the release branch')} and the {tag} tag message carry the notes"
    publish = getattr(ctx.services.ci, "publish_release", None)
    if publish is None:
        await ctx.passed(local, {"published to": "CHANGELOG.md, tag annotation", "GitHub Release": "not configured ([ci] provider = \"github\" publishes one)"})
        return

    async def act(key: str) -> Effect:
        from .preflight import notes_of

        notes = await notes_of(ctx)  # rendered as cut_release wrote them into CHANGELOG.md
        published = await publish(tag, tag, notes.to_markdown())
        return Effect(
            True,
            f"GitHub Release {tag} {'created' if published.created else 'updated'}; {local}",
            {"published to": "CHANGELOG.md, tag annotation, GitHub Release", "GitHub Release": published.url},
        )

    async def reconcile(intent: Intent) -> Effect | None:
        return None  # publishing looks the release up by tag and updates it: doing it again makes no second

    effect = await ctx.perform("publish_release", {"tag": tag}, act, reconcile)
    if effect is not None:
        await ctx.finish(effect)


@handler("merge_release")
async def merge_release(ctx: StepContext) -> None:
    git = git_of(ctx)
    plan = git_plan(ctx)

    async def act(key: str) -> Effect:
        result = await ctx.blocking(git.merge_release, plan)
        parts = []
        if result.merged_into:
            parts.append(f"merged into {' and '.join(result.merged_into)}" + (" and pushed" if result.pushed else ""))
        if result.already_merged:
            parts.append(f"already in {' and '.join(result.already_merged)}")
        return Effect(True, f"{plan.branch} " + "; ".join(parts or ["merged"]), data={"merged_into": list(result.merged_into)})

    async def reconcile(intent: Intent) -> Effect | None:
        status = getattr(git, "merge_status", None)
        if status is not None and await ctx.blocking(status, plan) == "done":
            return Effect(True, f"{plan.branch} already merged on {ctx.config.project.remote} (reconciled)")
        return None  # the merge checks ancestry itself: merging again cannot merge twice

    effect = await ctx.perform("merge", {"branch": plan.branch}, act, reconcile)
    if effect is not None:
        await ctx.finish(effect)
