"""HTTP smoke checks: httpx against the loopback product, with the five paths from `shipdeck init`."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Iterator

import pytest
import tomllib
from fakes.product_server import ProductServer
from smoke_support import SMOKE_ENV, example_checks, product_repo

from shipdeck.core.providers.base import SmokeResult
from shipdeck.core.providers.http_smoke import HttpSmoke
from shipdeck.core.providers.smoke_checks import parse_checks
from shipdeck.core.runner.preflight import smoke_evidence

PASSWORD = SMOKE_ENV["SMOKE_PASSWORD"]


@pytest.fixture
def product() -> Iterator[ProductServer]:
    with ProductServer() as server:
        yield server


def _run(product: ProductServer, tmp_path: Path, *, environ: dict[str, str] | None = None, checks=None, url: str | None = None) -> dict[str, SmokeResult]:
    runner = HttpSmoke(checks or example_checks(), environ={**os.environ, **SMOKE_ENV, **(environ or {})}, timeout=5, cwd=product_repo(tmp_path))
    results = asyncio.run(runner.run_version("production", product.url if url is None else url, "v1.4.0"))
    return {result.name: result for result in results}


def _checks(toml: str):
    return parse_checks(tomllib.loads(toml)["smoke"])


def test_the_five_critical_paths_pass_on_a_healthy_product(product: ProductServer, tmp_path: Path) -> None:
    results = _run(product, tmp_path)
    assert list(results) == ["Login works", "Apply to a job (end to end)", "Tracker loads", "Email sent", "Upgrade to Pro (Stripe test mode)"]
    assert all(result.passed for result in results.values()), {n: r.detail for n, r in results.items()}
    assert all(result.duration > 0 for result in results.values())
    assert results["Apply to a job (end to end)"].steps[2].startswith("POST /api/jobs/7/applications → 201 in ")
    assert "1 email(s) on production: Your application was received" in results["Email sent"].steps[0]
    assert product.plans["smoke@example.com"] == "pro" and len(product.applications) == 1
    assert smoke_evidence(results["Tracker loads"]).startswith("ok in ")


def test_a_path_that_breaks_after_the_deploy_fails_with_request_expectation_and_answer(product: ProductServer, tmp_path: Path) -> None:
    deployed = {"now": False}
    product.break_route("apply", when=lambda: deployed["now"])
    assert all(result.passed for result in _run(product, tmp_path).values())  # staging, before the deploy

    deployed["now"] = True
    results = _run(product, tmp_path)
    apply = results["Apply to a job (end to end)"]
    assert not apply.passed
    assert apply.request == "POST /api/jobs/7/applications"
    assert apply.expected == "status 201, application.status = 'submitted'"
    assert apply.got.startswith("status 500; body '") and "Internal Server Error" in apply.got
    assert apply.detail == "step 3 POST /api/jobs/7/applications: status 500, expected 201"
    assert [name for name, result in results.items() if not result.passed] == ["Apply to a job (end to end)"]
    evidence = smoke_evidence(apply)
    assert evidence.startswith("FAILED in ") and "expected status 201" in evidence and "got status 500" in evidence


def test_a_slow_answer_over_max_ms_fails(product: ProductServer, tmp_path: Path) -> None:
    product.delay("me", 0.9)
    login = _run(product, tmp_path)["Login works"]
    assert not login.passed
    assert "over max_ms 800" in login.detail and login.request == "GET /api/me"
    took = int(login.detail.split("took ")[1].split(" ms")[0])
    assert 900 <= took < 3000


def test_a_json_field_that_differs_fails_and_shows_what_came_back(product: ProductServer, tmp_path: Path) -> None:
    product.override("GET", "/api/me", 200, json.dumps({"user": {"email": "someone@else.example", "plan": "free"}}))
    login = _run(product, tmp_path)["Login works"]
    assert not login.passed and login.detail == "step 2 GET /api/me: user.email differs"
    assert 'user.email = "someone@else.example"' in login.got
    assert login.expected.startswith("status 200, user.email = '${SMOKE_EMAIL}'")  # the placeholder, never the value


def test_a_saved_token_flows_to_the_next_step(product: ProductServer, tmp_path: Path) -> None:
    with_token = """
[smoke]
[[smoke.checks]]
name = "me"
steps = [
  { method = "POST", path = "/api/login", json = { email = "${SMOKE_EMAIL}", password = "${SMOKE_PASSWORD}" }, save = { token = "json:token" } },
  { method = "GET", path = "/api/me", headers = { Authorization = "Bearer {token}" }, expect = { json = { "user.plan" = "free" } } },
]
[[smoke.checks]]
name = "me without the token"
steps = [{ method = "GET", path = "/api/me", expect = { status = 200 } }]
"""
    results = _run(product, tmp_path, checks=_checks(with_token))
    assert results["me"].passed, results["me"].detail
    assert not results["me without the token"].passed and "status 401" in results["me without the token"].detail
    [token] = product.tokens  # the one login issued is the one the second request carried
    assert product.requests.count("GET /api/me") == 2


def test_hostile_answers_are_cut_cleaned_and_masked_never_interpreted(product: ProductServer, tmp_path: Path) -> None:
    hostile = (
        f"[bold red]pwned[/] [@click=app.quit]quit[/] \x1b]0;title\x07\x1b[31mred\x1b[0m \x9b2J you sent {PASSWORD} "
        + "x" * 1000
    )
    product.override("POST", "/api/login", 200, json.dumps({"token": "tok_abcdefghijklmnop", "echo": hostile}))
    product.override("GET", "/api/me", 500, f"token tok_abcdefghijklmnop and password {PASSWORD} " + hostile, "text/plain")
    login = _run(product, tmp_path)["Login works"]
    assert not login.passed
    text = " ".join((login.detail, login.got, login.request, smoke_evidence(login)))
    assert PASSWORD not in text and "tok_abcdefghijklmnop" not in text
    assert "token *** and password ***" in login.got
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "[bold red]pwned[/] [@click=app.quit]quit[/]" in login.got  # kept as literal text
    assert "more characters)" in login.got and len(login.got) < 500


def test_a_missing_variable_fails_the_check_without_sending_anything(product: ProductServer, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "SMOKE_EMAIL"}
    runner = HttpSmoke(example_checks(), environ={**environ, "SMOKE_PASSWORD": PASSWORD}, timeout=5, cwd=product_repo(tmp_path))
    results = asyncio.run(runner.run("staging", product.url))
    login = results[0]
    assert not login.passed and login.detail.startswith("SMOKE_EMAIL is not set")
    assert not any(r.passed for r in results if r.name != "Email sent")
    assert not [request for request in product.requests if request.startswith("POST /api/login")]


def test_no_base_url_or_no_answer_is_a_failure_never_a_pass(product: ProductServer, tmp_path: Path) -> None:
    without_url = _run(product, tmp_path, url="")["Login works"]
    assert not without_url.passed and "set [environments.production] url" in without_url.detail
    invalid = _run(product, tmp_path, url="http://exa mple.com:port")["Login works"]
    assert not invalid.passed and "is not a valid URL" in invalid.detail
    product.stop()
    refused = _run(product, tmp_path, url="http://127.0.0.1:9")["Tracker loads"]
    assert not refused.passed and "no answer (ConnectError" in refused.detail


def test_a_base_url_with_a_path_prefix_is_kept(product: ProductServer, tmp_path: Path) -> None:
    checks = _checks('[smoke]\n[[smoke.checks]]\nname = "jobs"\nsteps = [{ path = "/api/jobs" }]\n')
    result = _run(product, tmp_path, checks=checks, url=product.url + "/staging")["jobs"]
    assert not result.passed and "status 404" in result.detail
    assert product.requests[-1] == "GET /staging/api/jobs"
