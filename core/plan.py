"""The checklist for each release type, from the reference process and the config."""

from __future__ import annotations

from .config import Config
from .model import Group, Phase, ReleaseType, StepKind, StepSpec
from .ramp import ramp_steps, restore_flags_step
from .ramp_config import ramp_entries

PRE, DAY, POST, BACK = Group.PRE_RELEASE, Group.RELEASE_DAY, Group.POST_RELEASE, Group.ROLLBACK


def build_plan(release_type: ReleaseType, config: Config) -> list[StepSpec]:
    """The ordered steps of one release; approvals name the roles the config asks for."""
    rule = config.approval_rule(release_type.value)
    hotfix = release_type is ReleaseType.HOTFIX
    role_text = (" + " if rule.require == "all" else " or ").join(rule.roles) or "anyone"
    project = config.project
    branches = dict.fromkeys((project.main_branch, project.develop_branch))  # one name when develop is main
    merge_title = f"Merge into {' and '.join(branches)}"
    steps = [
        StepSpec("preflight.window", "Release window", Phase.PREFLIGHT, PRE, action="check_window"),
        StepSpec("preflight.git", "Branches and version", Phase.PREFLIGHT, PRE, action="check_git"),
        StepSpec("preflight.ci", "CI green on the release commit", Phase.PREFLIGHT, PRE, action="check_ci"),
        StepSpec(
            "preflight.staging",
            "Staging deployed and smoke tested",
            Phase.PREFLIGHT,
            PRE,
            action="smoke_staging",
            optional=hotfix,  # the hotfix fast-track may skip the staging soak
        ),
        StepSpec("preflight.notes", "Release notes drafted", Phase.PREFLIGHT, PRE, action="draft_notes"),
        StepSpec("preflight.migrations", "Migrations are zero-downtime", Phase.PREFLIGHT, PRE, action="check_migrations"),
        StepSpec(
            "approval",
            f"Approval: {role_text}",
            Phase.PREFLIGHT,
            PRE,
            kind=StepKind.APPROVAL,
            roles=rule.roles,
            all_roles=rule.require == "all",
        ),
        StepSpec("cut", "Cut branch and tag, push", Phase.CUT, DAY, action="cut_release", side_effect=True),
        StepSpec("image", "Image for the tag exists", Phase.IMAGE, DAY, action="check_image"),
        StepSpec("announce.deploy", "Announce the deploy", Phase.DEPLOY, DAY, action="announce_deploy", side_effect=True),
        StepSpec(
            "deploy",
            "Deploy to production",
            Phase.DEPLOY,
            DAY,
            action="deploy",
            side_effect=True,
            changes_production=True,
        ),
        StepSpec("verify.smoke", "Smoke test production", Phase.VERIFY, DAY, action="smoke_production"),
        StepSpec("watch", "Watch metrics", Phase.WATCH, DAY, action="watch"),
        StepSpec("announce.success", "Announce success", Phase.WATCH, DAY, action="announce_success", side_effect=True),
    ]
    ramps = ramp_entries(config)
    for entry in ramps:  # the code shipped dark; each flag's ramp runs after the release's watch
        steps += ramp_steps(entry)
    if release_type is ReleaseType.MAJOR:
        steps.append(
            StepSpec(
                "communicate",
                "Customer communication: blog post, email, changelog",
                Phase.RELEASED,
                POST,
                kind=StepKind.MANUAL,
            )
        )
    steps += [
        StepSpec("post.watch", "Post-release watch", Phase.RELEASED, POST, action="post_watch"),
        StepSpec("post.notes", "Publish release notes", Phase.FINALIZE, POST, action="publish_notes", side_effect=True),
        StepSpec(
            "post.merge",
            merge_title,
            Phase.FINALIZE,
            POST,
            action="merge_release",
            side_effect=True,
        ),
    ]
    return steps + rollback_plan(flags=bool(ramps))


def rollback_plan(flags: bool = False) -> list[StepSpec]:
    """Steps run only once a rollback is requested: redeploy the previous tag, verify, announce.

    `flags`: the release ramps flags, so the rollback first turns back those it changed.
    """
    return ([restore_flags_step()] if flags else []) + [
        StepSpec("rollback.announce", "Announce the rollback", Phase.ROLLING_BACK, BACK, action="announce_rollback", side_effect=True),
        StepSpec(
            "rollback.deploy",
            "Redeploy the previous version",
            Phase.ROLLING_BACK,
            BACK,
            action="rollback_deploy",
            side_effect=True,
            changes_production=True,
        ),
        StepSpec("rollback.smoke", "Smoke test production", Phase.ROLLING_BACK, BACK, action="rollback_smoke"),
        StepSpec("rollback.done", "Announce rolled back", Phase.ROLLING_BACK, BACK, action="announce_rolled_back", side_effect=True),
    ]
