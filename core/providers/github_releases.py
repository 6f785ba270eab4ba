"""GitHub Releases: create the release for a tag with the notes, or update the one already there.

Looked up by tag first, so publishing twice (a resume after a crash between the request and
its journaled outcome) updates the one release instead of failing or making a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..sanitize import plain
from .github_api import GitHubClient, GitHubStatusError


@dataclass(frozen=True)
class Published:
    url: str
    created: bool  # False: an existing release for the tag was updated


async def find_release(client: GitHubClient, repository: str, tag: str) -> dict[str, Any] | None:
    """The release for `tag`, or None when there is none."""
    answer = await client.request("GET", f"/repos/{repository}/releases/tags/{tag}", allow=(404,))
    return dict(answer.data) if answer.status == 200 and isinstance(answer.data, dict) else None


async def publish_release(client: GitHubClient, repository: str, tag: str, name: str, body: str) -> Published:
    """Create the release for `tag` (or update its name and body when it exists)."""
    existing = await find_release(client, repository, tag)
    if existing is None:
        try:
            answer = await client.request("POST", f"/repos/{repository}/releases", json={"tag_name": tag, "name": name, "body": body})
            return Published(plain(answer.data.get("html_url", "")), True)
        except GitHubStatusError as error:
            if error.status != 422:
                raise
            existing = await find_release(client, repository, tag)  # created meanwhile (a racing resume)
            if existing is None:
                raise
    answer = await client.request("PATCH", f"/repos/{repository}/releases/{int(existing['id'])}", json={"name": name, "body": body})
    return Published(plain(answer.data.get("html_url", "")), False)
