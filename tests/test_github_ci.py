"""The GitHub CI provider against the loopback fake: checks, statuses, pulls, staging, releases."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest
from fakes.github_fake import FakeGitHub, running_fake

from shipdeck.core.providers.base import ProviderError
from shipdeck.core.providers.github_api import GitHubClient
from shipdeck.core.providers.github_ci import GitHubCi
from shipdeck.core.secrets import Secret

TOKEN = "ghs_faketoken123"
SHA = "a" * 40


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with running_fake(token=TOKEN) as github:
        yield github


def ask(fake: FakeGitHub, method: str, *args: Any) -> Any:
    """One CI provider method through a fresh client (closed after)."""

    async def go() -> Any:
        ci = GitHubCi(GitHubClient(Secret("GITHUB_TOKEN", TOKEN), api_url=fake.url), "acme/shop")
        try:
            return await getattr(ci, method)(*args)
        finally:
            await ci.close()

    return asyncio.run(go())


def check(name: str, status: str = "completed", conclusion: str | None = "success") -> dict[str, Any]:
    return {"name": name, "status": status, "conclusion": conclusion}


def test_all_green_is_a_pass(fake: FakeGitHub) -> None:
    fake.check_runs[SHA] = [check("tests"), check("lint"), check("docs", conclusion="skipped")]
    fake.commit_statuses[SHA] = [{"context": "ci/legacy", "state": "success"}]
    green, detail = ask(fake, "status", SHA)
    assert green is True and "4 check(s)" in detail


def test_a_failing_check_or_status_is_named(fake: FakeGitHub) -> None:
    fake.check_runs[SHA] = [check("tests", conclusion="failure"), check("lint")]
    fake.commit_statuses[SHA] = [{"context": "ci/legacy", "state": "error"}]
    green, detail = ask(fake, "status", SHA)
    assert green is False and "tests" in detail and "ci/legacy" in detail and "lint" not in detail


def test_pending_is_unknown_never_a_pass(fake: FakeGitHub) -> None:
    fake.check_runs[SHA] = [check("tests", status="in_progress", conclusion=None), check("lint")]
    green, detail = ask(fake, "status", SHA)
    assert green is None and "tests" in detail and "pending" in detail


def test_no_checks_at_all_is_unknown(fake: FakeGitHub) -> None:
    green, detail = ask(fake, "status", SHA)
    assert green is None and "unknown" in detail


def test_check_names_are_plain_text(fake: FakeGitHub) -> None:
    fake.check_runs[SHA] = [check("tests\x1b[2J[bold]x", conclusion="failure")]
    green, detail = ask(fake, "status", SHA)
    assert green is False and "\x1b" not in detail


def test_open_pulls_targeting_develop(fake: FakeGitHub) -> None:
    fake.add_pull(7, "feat: apply flow")
    fake.add_pull(8, "chore: bump", base="main")
    fake.add_pull(9, "fix: merged already", state="closed")
    pulls = ask(fake, "open_pulls", "develop")
    assert [(p.number, p.title) for p in pulls] == [(7, "feat: apply flow")]


def test_staging_commit_is_the_latest_successful_staging_deployment(fake: FakeGitHub) -> None:
    assert ask(fake, "staging_commit", "staging") is None
    fake.record_deployment("develop", "staging", "success", sha="old")
    fake.record_deployment("develop", "staging", "failure", sha="broken")
    fake.record_deployment("v1.4.0", "production", "success", sha="prod")
    assert ask(fake, "staging_commit", "staging") == "old"


def test_pull_titles_skip_unknown_numbers(fake: FakeGitHub) -> None:
    fake.add_pull(430, "Apply flow: one click", state="closed")
    assert ask(fake, "pull_titles", [430, 999]) == {430: "Apply flow: one click"}


def test_publish_release_creates_then_updates_one_release(fake: FakeGitHub) -> None:
    first = ask(fake, "publish_release", "v1.4.0", "v1.4.0", "notes one")
    second = ask(fake, "publish_release", "v1.4.0", "v1.4.0", "notes two")
    assert first.created and not second.created and first.url == second.url
    assert len(fake.releases) == 1 and fake.releases[0]["body"] == "notes two"


@pytest.mark.parametrize("body", [["not", "an", "object"], {"check_runs": [None]}, {"check_runs": "x"}])
def test_a_malformed_answer_is_a_clear_error(fake: FakeGitHub, body: Any) -> None:
    fake.answers[f"/repos/acme/shop/commits/{SHA}/check-runs"] = body
    with pytest.raises(ProviderError, match="does not understand"):
        ask(fake, "status", SHA)
