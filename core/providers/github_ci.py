"""The GitHub CI provider: the release commit's checks, open pull requests, staging, titles, releases.

`status` is the CiStatus protocol. The rest are optional extras the runner finds with
getattr (a CI provider without them stays valid): `open_pulls` and `staging_commit` for the
preflight, `pull_titles` for the release notes, `publish_release` for the GitHub Release.
Nothing here ever reports green for a check that did not run: pending or absent is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..sanitize import plain
from .github_api import GitHubClient, GitHubStatusError, shape_checked
from .github_releases import Published, publish_release

_GREEN = {"success", "neutral", "skipped"}


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    url: str


class GitHubCi:
    """CiStatus over check runs and commit statuses of one repository."""

    def __init__(self, client: GitHubClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self.repo = f"/repos/{repository}"

    @shape_checked
    async def status(self, commit: str) -> tuple[bool | None, str]:
        """True when every check run and status is green; False naming the failing; None when pending or none."""
        checks = await self._check_runs(commit)
        combined = await self.client.get(f"{self.repo}/commits/{commit}/status") or {}
        results = [(plain(c.get("name", "check")), _check_state(c)) for c in checks]
        results += [(plain(s.get("context", "status")), _status_state(s)) for s in combined.get("statuses") or []]
        short = commit[:10]
        if not results:
            return None, f"no check runs or statuses reported for {short} on {self.repository}: CI status unknown"
        failing = [name for name, state in results if state == "failing"]
        pending = [name for name, state in results if state == "pending"]
        if failing:
            return False, f"CI failing on {short}: {', '.join(failing)}"
        if pending:
            return None, f"CI still running on {short}: {', '.join(pending)} pending ({len(results) - len(pending)}/{len(results)} green)"
        return True, f"CI green on {short}: {len(results)} check(s) passed"

    async def _check_runs(self, commit: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = []
        for page in range(1, 11):  # 1,000 check runs is past any real commit
            answer = await self.client.get(f"{self.repo}/commits/{commit}/check-runs", {"per_page": 100, "page": page}) or {}
            batch = answer.get("check_runs") or []
            runs.extend(batch)
            if len(batch) < 100 or len(runs) >= int(answer.get("total_count") or 0):
                break
        return runs

    @shape_checked
    async def open_pulls(self, base: str) -> list[PullRequest]:
        """Open pull requests targeting `base` (develop: the reference process wants them all merged)."""
        found = await self.client.get(f"{self.repo}/pulls", {"base": base, "state": "open", "per_page": 100}) or []
        return [PullRequest(int(p["number"]), plain(p.get("title", "")), plain(p.get("html_url", ""))) for p in found]

    @shape_checked
    async def staging_commit(self, environment: str = "staging") -> str | None:
        """The commit of the latest successful Deployment to `environment`, or None when unknown."""
        deployments = await self.client.get(f"{self.repo}/deployments", {"environment": environment, "per_page": 30}) or []
        for deployment in deployments:
            statuses = await self.client.get(f"{self.repo}/deployments/{deployment['id']}/statuses", {"per_page": 1}) or []
            if statuses and statuses[0].get("state") == "success":
                return plain(deployment.get("sha") or "") or None
        return None

    @shape_checked
    async def pull_titles(self, numbers: list[int]) -> dict[int, str]:
        """Titles of the pull requests that exist, by number (a missing one is left out)."""
        titles: dict[int, str] = {}
        for number in numbers:
            answer = await self.client.request("GET", f"{self.repo}/pulls/{int(number)}", allow=(404,))
            if answer.status == 200 and isinstance(answer.data, dict):
                titles[int(number)] = plain(answer.data.get("title", ""))
        return titles

    @shape_checked
    async def publish_release(self, tag: str, name: str, body: str) -> Published:
        """The GitHub Release for `tag` with the notes as its body (created, or updated on resume)."""
        return await publish_release(self.client, self.repository, tag, name, body)

    async def check(self) -> list[tuple[bool, str, str]]:
        """For `shipdeck doctor`: the repository is reachable with the token."""
        try:
            await self.client.get(self.repo)
        except GitHubStatusError as error:
            return [(False, "ci: github", str(error))]
        return [(True, "ci: github", f"{self.repository} reachable at {self.client.host}")]

    async def close(self) -> None:
        await self.client.close()


def _check_state(run: dict[str, Any]) -> str:
    if run.get("status") != "completed":
        return "pending"
    return "green" if run.get("conclusion") in _GREEN else "failing"


def _status_state(status: dict[str, Any]) -> str:
    state = status.get("state")
    if state == "success":
        return "green"
    return "pending" if state == "pending" else "failing"
