"""The GitHub Actions deployer: a workflow dispatch per deploy, followed to its conclusion.

A deploy (and a rollback: the same dispatch with the previous version) is:
1. look for a run already carrying the attempt's key (a dispatch that timed out after GitHub
   created the run, or a crash): follow that one instead of dispatching again;
2. a GitHub Deployment record for the tag (its payload carries the key), status in_progress;
3. dispatch with the version and key as inputs, asking for `return_run_details`; an older
   server that rejects the field gets the plain dispatch, and the run is found by the key,
   which the workflow echoes in its `run-name`;
4. follow the run's jobs and steps as progress; the conclusion decides, and the Deployment
   gets a success or failure status.

The workflow must echo the key in its run name, e.g.
`run-name: deploy ${{ inputs.version }} ${{ inputs.key }}`: that is how a crashed or timed-out
dispatch is found again rather than repeated.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Mapping

from ..sanitize import plain
from .base import DeployProgress, DeployResult, ProgressCallback, ProviderError, Running
from .github_api import GitHubClient, GitHubStatusError, GitHubTimeout, shape_checked

_FAILED = {"failure", "cancelled", "timed_out", "action_required", "startup_failure", "stale"}


@dataclass(frozen=True)
class ActionsSettings:
    repository: str
    workflow: str
    ref: str = "main"
    version_input: str = "version"
    key_input: str = "key"
    environment: str = "production"
    timeout: float = 1800.0  # the whole deploy, dispatch to conclusion
    poll_interval: float = 5.0
    find_run_within: float = 60.0  # how long a dispatched run may take to appear in the list


class GitHubActionsDeployer:
    """Deployer (and KnowsRunning) over GitHub Actions workflow dispatch and Deployments."""

    def __init__(self, client: GitHubClient, settings: ActionsSettings) -> None:
        self.client = client
        self.settings = settings
        self.repo = f"/repos/{settings.repository}"

    # -- the Deployer protocol ---------------------------------------------------------------

    @shape_checked
    async def deploy(
        self, tag: str, key: str, on_progress: ProgressCallback, restore: Mapping[str, str] | None = None
    ) -> DeployResult:
        version = (restore or {}).get("version") or tag
        run = await self.find_run(key)
        deployment = await self._deployment_for(key)
        if deployment is None:
            deployment = await self._create_deployment(version, key)
        if run is None:
            try:
                run = await self._dispatch(version, key, on_progress)
            except ProviderError as error:
                if deployment is not None:  # the record says what happened, not "pending" forever
                    await self._status(deployment, "error", "", f"dispatch failed: {error}")
                raise
        return await self._follow(version, key, run, deployment, on_progress)

    @shape_checked
    async def reconcile(self, tag: str, key: str, on_progress: ProgressCallback) -> DeployResult | None:
        deployment = await self._deployment_for(key)
        run = await self.find_run(key)
        if run is None and deployment is not None:
            run = await self._run_after(deployment, key)
        if run is None:
            return None  # nothing was dispatched for this key: deploying now deploys once
        return await self._follow(tag, key, run, deployment, on_progress)

    async def _run_after(self, deployment: dict[str, Any], key: str) -> dict[str, Any] | None:
        """The run for `key` when a crash fell between the Deployment record and the dispatch's answer.

        The record is written just before the dispatch, so a run of the workflow created since
        then that does not carry the key means shipdeck cannot tell (the run-name must echo the
        key): that is an error, never a second dispatch. No run since then means no dispatch.
        """
        since = str(deployment.get("created_at") or "")
        deadline = time.monotonic() + min(self.settings.find_run_within, 10.0)  # a fresh run may list late
        while True:
            run = await self.find_run(key)
            if run is not None:
                return run
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(self.settings.poll_interval, 1.0))
        others = [r for r in await self._runs() if not since or str(r.get("created_at") or "") >= since]
        if others:
            raise ProviderError(
                f"GitHub Actions: {len(others)} run(s) of {self.settings.workflow} started after the Deployment for {key} "
                f"(#{deployment.get('id')}), none carrying the key in its run name; check them by hand "
                "(the workflow's run-name must echo the key input)"
            )
        return None

    @shape_checked
    async def running(self) -> Running:
        """The ref of the latest Deployment to the environment whose latest status is success."""
        environment = self.settings.environment
        deployments = await self.client.get(f"{self.repo}/deployments", {"environment": environment, "per_page": 30})
        for deployment in deployments or []:
            statuses = await self.client.get(f"{self.repo}/deployments/{deployment['id']}/statuses", {"per_page": 1})
            if statuses and statuses[0].get("state") == "success":
                ref = plain(deployment.get("ref", ""))
                return Running(ref, f"GitHub Deployment #{deployment['id']} to {environment} ({ref}) succeeded", {"version": ref})
        return Running(None, f"no successful GitHub Deployment to {environment} on {self.settings.repository}: shipdeck cannot tell what runs")

    async def close(self) -> None:
        await self.client.close()

    # -- runs ----------------------------------------------------------------------------------

    async def find_run(self, key: str) -> dict[str, Any] | None:
        """The newest dispatched run of the workflow whose run name carries `key`."""
        for run in await self._runs():
            if key in str(run.get("name") or "") or key in str(run.get("display_title") or ""):
                return run
        return None

    async def _runs(self) -> list[dict[str, Any]]:
        answer = await self.client.get(
            f"{self.repo}/actions/workflows/{self.settings.workflow}/runs", {"event": "workflow_dispatch", "per_page": 50}
        )
        return [dict(run) for run in (answer or {}).get("workflow_runs", [])]

    async def _dispatch(self, version: str, key: str, on_progress: ProgressCallback) -> dict[str, Any]:
        s = self.settings
        path = f"{self.repo}/actions/workflows/{s.workflow}/dispatches"
        body: dict[str, Any] = {"ref": s.ref, "inputs": {s.version_input: version, s.key_input: key}}
        await on_progress(DeployProgress("dispatch", f"dispatching {s.workflow} on {s.repository} for {version}"))
        try:
            try:
                answer = await self.client.request("POST", path, json={**body, "return_run_details": True})
            except GitHubStatusError as error:
                if error.status not in (400, 422):
                    raise
                # Older GitHub Enterprise rejects the unknown field. A 422 for another reason
                # (an input the workflow lacks) comes back again from this plain dispatch.
                answer = await self.client.request("POST", path, json=body)
        except GitHubTimeout:
            # The run may exist all the same: find it by its key, never dispatch twice.
            await on_progress(DeployProgress("dispatch", "the dispatch timed out; looking for its run by key"))
            return await self._await_run(key, "the dispatch timed out")
        run_id = (answer.data or {}).get("workflow_run_id") if isinstance(answer.data, dict) else None
        if run_id is not None:
            return dict(await self.client.get(f"{self.repo}/actions/runs/{int(run_id)}"))
        return await self._await_run(key, "the dispatch was accepted")

    async def _await_run(self, key: str, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.find_run_within
        while True:
            run = await self.find_run(key)
            if run is not None:
                return run
            if time.monotonic() >= deadline:
                raise ProviderError(
                    f"GitHub Actions: {what} but no run of {self.settings.workflow} carrying {key} appeared within "
                    f"{self.settings.find_run_within:.0f}s; check the workflow's run-name echoes the key input, and its runs by hand"
                )
            await asyncio.sleep(min(self.settings.poll_interval, 2.0))

    async def _follow(
        self, version: str, key: str, run: dict[str, Any], deployment: dict[str, Any] | None, on_progress: ProgressCallback
    ) -> DeployResult:
        run_id = int(run["id"])
        url = plain(run.get("html_url", ""))
        if deployment is not None:
            await self._status(deployment, "in_progress", url, f"run {run_id}")
        deadline = time.monotonic() + self.settings.timeout
        while True:
            run = await self.client.get(f"{self.repo}/actions/runs/{run_id}")
            jobs = (await self.client.get(f"{self.repo}/actions/runs/{run_id}/jobs", {"filter": "latest"}) or {}).get("jobs", [])
            await on_progress(_progress(run, jobs))
            if run.get("status") == "completed":
                break
            if time.monotonic() >= deadline:
                await self.client.request("POST", f"{self.repo}/actions/runs/{run_id}/cancel", allow=(409,))
                if deployment is not None:
                    await self._status(deployment, "failure", url, "timed out; run cancelled")
                return DeployResult(version, False, f"run {run_id} did not finish within {self.settings.timeout:.0f}s; shipdeck cancelled it", {"run": url})
            await asyncio.sleep(self.settings.poll_interval)
        conclusion = str(run.get("conclusion") or "")
        evidence = {"run": url, "workflow": self.settings.workflow, "conclusion": conclusion}
        if conclusion == "success":
            if deployment is not None:
                await self._status(deployment, "success", url, f"{version} deployed")
                evidence["deployment"] = f"#{deployment['id']} to {self.settings.environment}"
            return DeployResult(version, True, f"{version} deployed by {self.settings.workflow} run {run_id}", evidence)
        failed = _failed_step(jobs)
        if deployment is not None:
            await self._status(deployment, "failure", url, f"{conclusion or 'unknown'} at {failed}")
        return DeployResult(version, False, f"run {run_id} {conclusion or 'ended'} at step {failed!r}", {**evidence, "failed step": failed})

    # -- deployments ---------------------------------------------------------------------------

    async def _deployment_for(self, key: str) -> dict[str, Any] | None:
        found = await self.client.get(f"{self.repo}/deployments", {"environment": self.settings.environment, "per_page": 30})
        return next((dict(d) for d in found or [] if (d.get("payload") or {}).get("shipdeck_key") == key), None)

    async def _create_deployment(self, version: str, key: str) -> dict[str, Any] | None:
        body = {
            "ref": version,
            "environment": self.settings.environment,
            "auto_merge": False,
            "required_contexts": [],
            "payload": {"shipdeck_key": key},
            "description": f"shipdeck {'rollback' if ':rollback.' in key else 'deploy'} of {version}",
        }
        try:
            return dict((await self.client.request("POST", f"{self.repo}/deployments", json=body)).data)
        except GitHubStatusError as error:
            if error.status in (409, 422):  # the ref is unknown to GitHub: deploy anyway, say so
                return None
            raise

    async def _status(self, deployment: dict[str, Any], state: str, log_url: str, description: str) -> None:
        body = {"state": state, "log_url": log_url, "description": description[:140], "environment": self.settings.environment}
        await self.client.request("POST", f"{self.repo}/deployments/{deployment['id']}/statuses", json=body)


def _progress(run: Mapping[str, Any], jobs: list[Mapping[str, Any]]) -> DeployProgress:
    stages: list[tuple[str, str]] = []
    total = done = 0
    current = plain(run.get("status", "queued"))
    for job in jobs:
        job_name = plain(job.get("name", "job"))
        stages.append((job_name, plain(job.get("conclusion") or job.get("status") or "queued")))
        for step in job.get("steps") or []:
            total += 1
            state = plain(step.get("conclusion") or step.get("status") or "queued")
            done += step.get("status") == "completed"
            stages.append((f"{job_name} › {plain(step.get('name', 'step'))}", state))
            if step.get("status") == "in_progress":
                current = f"{job_name} › {plain(step.get('name', 'step'))}"
    return DeployProgress(
        stage="run",
        message=f"run {run.get('id')}: {current}",
        progress=(done / total) if total else None,
        stages=tuple(stages),
    )


def _failed_step(jobs: list[Mapping[str, Any]]) -> str:
    for job in jobs:
        for step in job.get("steps") or []:
            if step.get("conclusion") in _FAILED:
                return f"{plain(job.get('name', 'job'))} › {plain(step.get('name', 'step'))}"
        if job.get("conclusion") in _FAILED:
            return plain(job.get("name", "job"))
    return "unknown step"
