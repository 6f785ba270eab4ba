"""Pull request titles in the notes come from GitHub when a merge commit has no body.

The runner's lookup (`pr_title_lookup`) is built on the event loop and called from the notes'
worker thread; here it drives the real GitHub CI provider against the loopback fake, and the
real notes over a real repository.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakes.github_fake import running_fake
from history_builder import build_history
from test_notes_histories import _squash_and_merges

from shipdeck.core.notes import notes_for_range
from shipdeck.core.providers.github_api import GitHubClient
from shipdeck.core.providers.github_ci import GitHubCi
from shipdeck.core.runner.preflight import pr_title_lookup
from shipdeck.core.secrets import Secret

TOKEN = "ghp_notes_titles_token_0001"


@dataclass
class _Services:
    ci: Any


@dataclass
class _Ctx:
    services: _Services


def _notes(repo: Path, ci: Any) -> str:
    async def go() -> str:
        lookup = pr_title_lookup(_Ctx(_Services(ci)))  # type: ignore[arg-type]
        notes = await asyncio.to_thread(notes_for_range, repo, None, "main", pr_titles=lookup)
        return notes.to_markdown()

    return asyncio.run(go())


def test_a_bodyless_merge_takes_its_pull_request_title_from_github(tmp_path: Path) -> None:
    repo = build_history(tmp_path / "repo", _squash_and_merges)
    with running_fake(token=TOKEN) as github:
        github.add_pull(430, "fix(email): send the confirmation once [@click=app.quit]", state="closed")
        ci = GitHubCi(GitHubClient(Secret("GITHUB_TOKEN", TOKEN), api_url=github.url), "acme/shop")
        markdown = _notes(repo, ci)
        assert github.requests["GET /repos/acme/shop/pulls/430"] == 1
    assert "Send the confirmation once [@click=app.quit] (#430)" in markdown  # literal text, never markup
    assert "Merge pull request" not in markdown


def test_github_unreachable_falls_back_to_the_commits_inside(tmp_path: Path) -> None:
    repo = build_history(tmp_path / "repo", _squash_and_merges)
    with running_fake(token=TOKEN) as github:
        url = github.url
    ci = GitHubCi(GitHubClient(Secret("GITHUB_TOKEN", TOKEN), api_url=url), "acme/shop")  # the fake is gone
    markdown = _notes(repo, ci)
    assert "Send once on retry (#430)" in markdown
