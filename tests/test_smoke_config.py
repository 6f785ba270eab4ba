"""`[smoke] provider = "http"` in shipdeck.toml: validated at load, errors with file, key and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipdeck.core.config import ConfigError, load_config
from shipdeck.core.config_writer import provider_examples
from shipdeck.core.providers.registry import production_registry
from shipdeck.core.providers.smoke_example import SMOKE_EXAMPLE

LOGIN = '{ method = "POST", path = "/api/login", json = { email = "${SMOKE_EMAIL}" }, save = { token = "json:token" } }'


def _load(tmp_path: Path, text: str):
    path = tmp_path / "shipdeck.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return caught.value


def test_the_init_example_is_valid_and_is_what_init_writes(tmp_path: Path) -> None:
    written = provider_examples(production_registry().specs())
    uncommented = "\n".join(line[2:] if line.startswith("# ") else "" for line in written.splitlines())
    assert SMOKE_EXAMPLE.strip() in uncommented
    config = _load(tmp_path, SMOKE_EXAMPLE)
    assert config.smoke.provider == "http" and config.smoke.settings["timeout"] == 10.0
    assert [check["name"] for check in config.smoke_checks][-1] == "Upgrade to Pro (Stripe test mode)"


@pytest.mark.parametrize(
    ("checks", "key", "line", "problem"),
    [
        (
            f'[[smoke.checks]]\nname = "a"\nsteps = [{LOGIN}]\n\n[[smoke.checks]]\nname = "b"\nsteps = [\n  {{ path = "/x", expect = {{ status = "200" }} }},\n]\n',
            "smoke.checks[2].steps", 11, "check 'b', step 1: expect.status is an HTTP status like 200, found '200'",
        ),
        (
            f'[[smoke.checks]]\nname = "a"\nsteps = [\n  {{ path = "/api/me", headers = {{ Authorization = "Bearer {{token}}" }} }},\n]\n',
            "smoke.checks[1].steps", 7, "check 'a', step 1 uses {token}, which no earlier step of this check saves",
        ),
        (
            '[[smoke.checks]]\nname = "a"\nsteps = [{ path = "/" }]\n[[smoke.checks]]\nname = "mail"\nkind = "command"\nargv = ["./check.sh", "${SMOKE_EMAIL}"]\n',
            "smoke.checks[2].argv", 11, "argv is run without a shell, so ${VAR} is not expanded",
        ),
        (
            '[[smoke.checks]]\nname = "a"\nsteps = [{ path = "/", expect = { stauts = 200 } }]\n',
            "smoke.checks[1].steps", 7, "did you mean 'status'?",
        ),
        (
            '[[smoke.checks]]\nname = "a"\nkind = "command"\nargv = ["./x"]\ntimeout = "soon"\n',
            "smoke.checks[1].timeout", 9, "check 'a':",
        ),
        (
            '[[smoke.checks]]\nname = "a"\nsteps = [{ path = "/", save = { token = "body:token" } }]\n',
            "smoke.checks[1].steps", 7, 'save.token is "json:dotted.path" or "header:Name"',
        ),
        ("", "smoke.checks", 1, "none is configured"),
    ],
)
def test_a_bad_check_names_file_key_and_line(tmp_path: Path, checks: str, key: str, line: int | None, problem: str) -> None:
    error = _error(tmp_path, f'[smoke]\nprovider = "http"\ntimeout = "5s"\n\n{checks}')
    assert error.key == key and error.line == line, str(error)
    assert problem in error.problem
    assert str(error).startswith(f"{tmp_path / 'shipdeck.toml'}{':' + str(line) if line else ''}: [{key}]")


def test_without_checks_the_error_says_where_to_find_the_example(tmp_path: Path) -> None:
    error = _error(tmp_path, '[smoke]\nprovider = "http"\n')
    assert re.search(r"see `shipdeck init` for the five critical paths", error.problem)


def test_doctor_says_which_variables_urls_and_commands_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipdeck.core.clock import SystemClock
    from shipdeck.core.providers.wiring import check_providers

    monkeypatch.setenv("SMOKE_EMAIL", "smoke@example.com")
    monkeypatch.delenv("SMOKE_PASSWORD", raising=False)
    config = _load(tmp_path, '[environments.production]\nurl = "https://example.com"\n\n' + SMOKE_EXAMPLE)
    rows = {row.what: row for row in check_providers(config, SystemClock(), tmp_path)}
    assert rows["smoke variable SMOKE_EMAIL"].ok and not rows["smoke variable SMOKE_PASSWORD"].ok
    assert rows["smoke base URL for production"].ok and not rows["smoke base URL for staging"].ok
    email = rows["smoke command 'Email sent'"]
    assert not email.ok and email.detail == "./scripts/check-sendgrid.sh is not an executable file"
