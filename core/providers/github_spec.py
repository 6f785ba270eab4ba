"""GitHub's entries in the provider registry: `[deploy] provider = "github-actions"` and `[ci] provider = "github"`.

Only declarations live here, so loading a config never imports httpx: the clients are built
lazily in `build`.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from .registry import BuildContext, Check, ProviderSpec, Setting, SettingError

_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")


def _check_common(section: Mapping[str, Any]) -> None:
    from .github_api import check_api_url

    repository = section.get("repository")
    if isinstance(repository, str) and not _REPOSITORY.match(repository):
        raise SettingError("repository", f'expected "owner/name", found {repository!r}')
    api_url = section.get("api_url")
    if isinstance(api_url, str):
        problem = check_api_url(api_url)
        if problem is not None:
            raise SettingError("api_url", problem)
    workflow = section.get("workflow")
    if isinstance(workflow, str) and ("/" in workflow or not workflow.strip()):
        raise SettingError("workflow", f"expected the workflow's file name (deploy.yml) or numeric id, found {workflow!r}")


def _client(ctx: BuildContext, what: str) -> Any:
    from .github_api import GitHubClient

    settings = ctx.settings
    return GitHubClient(
        ctx.secret("token_env"), api_url=settings["api_url"], timeout=settings["request_timeout"], max_wait=settings["rate_limit_wait"], what=what
    )


def build_deployer(ctx: BuildContext) -> Any:
    from .github_actions import ActionsSettings, GitHubActionsDeployer

    s = ctx.settings
    return GitHubActionsDeployer(
        _client(ctx, "GitHub Actions"),
        ActionsSettings(
            repository=s["repository"],
            workflow=s["workflow"],
            ref=s["ref"],
            version_input=s["version_input"],
            key_input=s["key_input"],
            environment=s["environment"] or ctx.environment,
            timeout=s["timeout"],
            poll_interval=s["poll_interval"],
            find_run_within=s["find_run_within"],
        ),
    )


def build_ci(ctx: BuildContext) -> Any:
    from .github_ci import GitHubCi

    return GitHubCi(_client(ctx, "GitHub"), ctx.settings["repository"])


async def check_deployer(ctx: BuildContext) -> list[Check]:
    from .github_api import GitHubStatusError

    deployer = build_deployer(ctx)
    s = ctx.settings
    try:
        await deployer.client.get(f"/repos/{s['repository']}/actions/workflows/{s['workflow']}")
        return [Check(True, "deploy: github-actions", f"workflow {s['workflow']} found on {s['repository']} at {deployer.client.host}")]
    except GitHubStatusError as error:
        return [Check(False, "deploy: github-actions", str(error))]
    finally:
        await deployer.close()


async def check_ci(ctx: BuildContext) -> list[Check]:
    ci = build_ci(ctx)
    try:
        return [Check(ok, what, detail) for ok, what, detail in await ci.check()]
    finally:
        await ci.close()


_COMMON = {
    "repository": Setting("str", required=True, help='the GitHub repository, "owner/name"'),
    "token_env": Setting("env", default="GITHUB_TOKEN", help="the environment variable holding the token"),
    "api_url": Setting("url", default="https://api.github.com", help="GitHub Enterprise: https://HOST/api/v3 (tests: a loopback fake)"),
    "request_timeout": Setting("duration", default=10.0, minimum=0.1, help="per request"),
    "rate_limit_wait": Setting("duration", default=60.0, minimum=0.0, help="longest wait for GitHub's rate limit before failing clearly"),
}

PROVIDERS = (
    ProviderSpec(
        "deploy",
        "github-actions",
        "GitHub Actions: dispatch a deploy workflow with the version, follow its run, record GitHub Deployments",
        {
            **_COMMON,
            "workflow": Setting("str", required=True, help="the workflow file name (deploy.yml) or id; its run-name must echo the key input"),
            "ref": Setting("str", default="main", help="the branch the workflow runs from"),
            "version_input": Setting("str", default="version", help="the workflow input that receives the tag"),
            "key_input": Setting("str", default="key", help="the workflow input that receives shipdeck's unique key (echo it in run-name)"),
            "environment": Setting("str", default="", help="the GitHub Deployment environment (default: the release's environment)"),
            "timeout": Setting("duration", default=1800.0, minimum=1.0, help="the whole run; past it shipdeck cancels the run"),
            "poll_interval": Setting("duration", default=5.0, minimum=0.01, help="how often the run's jobs are read"),
            "find_run_within": Setting("duration", default=60.0, minimum=0.0, help="how long a dispatched run may take to appear"),
        },
        build=build_deployer,
        check=check_deployer,
        check_section=_check_common,
        example={"provider": "github-actions", "repository": "acme/shop", "workflow": "deploy.yml", "ref": "main", "token_env": "GITHUB_TOKEN"},
    ),
    ProviderSpec(
        "ci",
        "github",
        "GitHub: check runs and statuses of the release commit, open pull requests, staging, GitHub Releases",
        dict(_COMMON),
        build=build_ci,
        check=check_ci,
        check_section=_check_common,
        example={"provider": "github", "repository": "acme/shop", "token_env": "GITHUB_TOKEN"},
    ),
)
