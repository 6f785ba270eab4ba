"""shipdeck.toml: every mistake is one error naming file, key and line; `init` writes a file that loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shipdeck.core.config import ConfigError, load_config
from shipdeck.core.config_writer import default_sections, render
from shipdeck.core.repo_facts import RepoFacts

CLI = [sys.executable, "-m", "shipdeck.tui.cli"]
HEADER = '# the product\n[project]\nname = "product"\n\n'  # so no error can be right by sitting on line 1
AFTER_HEADER = HEADER.count("\n")


def _write(folder: Path, text: str) -> Path:
    path = folder / "shipdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)


# A demo world's config: only there (or in a rehearsal) may simulated providers appear.
SANDBOX = '\n[sandbox]\nscenario = "healthy"\n'

# (body after HEADER, key named, line within body, words the message must contain)
MALFORMED = {
    "toml-syntax": ('[watch]\nbreach_for = \n', "watch.breach_for", 2, ["not valid TOML"]),
    "toml-unterminated-string": ('[release]\ntag_pattern = "v{version}\n', "release.tag_pattern", 2, ["not valid TOML"]),
    "toml-duplicate-key": ('[watch]\nbreach_for = "1m"\nbreach_for = "2m"\n', "watch.breach_for", 3, ["not valid TOML"]),
    "wrong-type": ("[watch]\nbreach_for = true\n", "watch.breach_for", 2, ["found bool True"]),
    "wrong-type-list": ('[release]\nrollback_roles = "cto"\n', "release.rollback_roles", 2, ["expected a list, found str"]),
    "bad-duration": ('[watch]\ndeploy_window = "30m"\nbreach_for = "two minutes"\n', "watch.breach_for", 3, ['"90s"', "'two minutes'"]),
    "unknown-key": ('[watch]\ndeploy_window = "30m"\nbreach_fro = "2m"\n', "watch.breach_fro", 3, ["did you mean 'breach_for'"]),
    "unknown-table": ('[wach]\nbreach_for = "2m"\n', "wach", 1, ["did you mean 'watch'"]),
    "unknown-time-zone": ('[release.window]\ndays = ["fri"]\ntimezone = "Mars/Olympus_Mons"\n', "release.window.timezone", 3, ["unknown time zone", "Mars/Olympus_Mons"]),
    "bad-clock": ('[release.window]\nstart = "25:00"\n', "release.window.start", 2, ["24-hour", "'25:00'"]),
    "unknown-day": ('[release.window]\ndays = ["fry"]\n', "release.window.days", 2, ["unknown day 'fry'"]),
    "unknown-role-in-approvals": (
        '[roles]\ncto = ["carol"]\n\n[release.approvals]\nregular = { roles = ["vp-engineering"] }\n',
        "release.approvals.regular.roles",
        5,
        ["'vp-engineering'", "not defined in [roles]"],
    ),
    "blind-after-below-interval": ('[metrics]\ninterval = "30s"\n\n[watch]\nblind_after = "10s"\n', "watch.blind_after", 5, ["metrics.interval (30s)"]),
    "tag-pattern-without-version": ('[release]\ntag_pattern = "release-{date}"\n', "release.tag_pattern", 2, ["{version}"]),
    # Provider tables: every key known to its provider, of its kind.
    "deploy-tasks-not-a-number": ('[deploy]\nprovider = "simulated"\ntasks = "four"\n' + SANDBOX, "deploy.tasks", 3, ["whole number", "'four'"]),
    "deploy-tasks-zero": ('[deploy]\nprovider = "simulated"\ntasks = 0\n' + SANDBOX, "deploy.tasks", 3, ["at least 1"]),
    "deploy-duration-not-a-duration": ('[deploy]\nprovider = "simulated"\nduration = "soon"\n' + SANDBOX, "deploy.duration", 3, ['"90s"', "'soon'"]),
    "smoke-per-check-not-a-duration": ('[smoke]\nprovider = "simulated"\nper_check = true\n' + SANDBOX, "smoke.per_check", 3, ["duration", "True"]),
    "misspelt-provider-key": ('[deploy]\nprovder = "ecs"\n', "deploy.provder", 2, ["did you mean 'provider'"]),
    "unknown-provider": ('[notify]\nprovider = "slak"\n', "notify.provider", 2, ["unknown notify provider 'slak'", "console"]),
    "simulated-outside-the-demo": ('[deploy]\nprovider = "simulated"\n', "deploy.provider", 2, ["only in the demo or a rehearsal", "--rehearse"]),
    "secret-value-instead-of-a-variable-name": (
        '[metrics]\nprovider = "datadog"\napi_key_env = "0123-abcd-secret"\n', "metrics.api_key_env", 3, ["NAME of an environment variable"]
    ),
    "key-of-another-provider": ('[deploy]\nprovider = "none"\ntasks = 4\n', "deploy.tasks", 3, ["unknown key 'tasks'", 'provider = "none"']),
    "unknown-key-in-image": ('[image]\nprovider = "simulated"\nregistry = "x"\n' + SANDBOX, "image.registry", 3, ["unknown key 'registry'"]),
    "unknown-key-in-metrics": ('[metrics]\nprovider = "simulated"\ninterval = "10s"\nintervall = "5s"\n' + SANDBOX, "metrics.intervall", 4, ["did you mean 'interval'"]),
    "unknown-key-in-smoke": ('[smoke]\nprovider = "simulated"\nper_chek = "1s"\n' + SANDBOX, "smoke.per_chek", 3, ["did you mean 'per_check'"]),
    "unknown-key-in-ci": ('[ci]\nprovider = "none"\nrepo = "org/product"\n', "ci.repo", 3, ["unknown key 'repo'", 'provider = "none"']),
    "unknown-key-in-flags": ('[flags]\nprovider = "none"\nurl = "http://127.0.0.1:4242"\n', "flags.url", 3, ["unknown key 'url'"]),
    "flags-unleash-without-url": ('[flags]\nprovider = "unleash"\n', "flags.url", 1, ["needs url"]),
    "datadog-timeout-not-a-duration": ('[metrics]\nprovider = "datadog"\ntimeout = "soon"\n[metrics.series.p95]\nquery = "p95:x"\n', "metrics.timeout", 3, ['"90s"']),
    "datadog-series-without-query": ('[metrics]\nprovider = "datadog"\n[metrics.series.p95]\nunit = "ms"\n', "metrics.series.p95", 3, ["queries", "single `query`"]),
    "unknown-key-in-notify": ('[notify]\nprovider = "console"\nchannel = "#releases"\n', "notify.channel", 3, ["unknown key 'channel'"]),
    "unknown-env-key": ('[metrics]\nprovider = "simulated"\ntoken_env = "DD_TOKEN"\n' + SANDBOX, "metrics.token_env", 3, ["unknown key 'token_env'"]),
}


@pytest.mark.parametrize(("body", "key", "line", "words"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_config_is_one_error_naming_file_key_and_line(tmp_path: Path, body: str, key: str, line: int, words: list[str]) -> None:
    path = _write(tmp_path, HEADER + body)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    error = caught.value
    expected_line = AFTER_HEADER + line
    assert (error.path, error.key, error.line) == (path, key, expected_line)
    named_key = f" [{key}]" if key else ""
    assert str(error).startswith(f"{path}:{expected_line}:{named_key} ")
    for word in words:
        assert word in str(error)


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shipdeck init"):
        load_config(tmp_path / "shipdeck.toml")


def test_an_empty_config_gives_the_reference_process_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""))
    assert config.release.window.days == ("fri",)
    assert (config.release.window.start, config.release.window.end) == ("14:00", "17:00")
    assert config.release.window.timezone == "America/Los_Angeles"
    assert (config.watch.deploy_window, config.watch.breach_for, config.watch.blind_after) == (1800.0, 120.0, 120.0)
    assert config.metrics_interval == 10.0
    assert config.notify.provider == "console"


def test_a_valid_handwritten_config_parses_with_its_values(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + '[release.window]\ndays = ["Thu", "fri"]\nstart = "09:30"\ntimezone = "Europe/Berlin"\n\n'
        + '[roles]\nengineering-manager = ["alice"]\ncto = ["carol"]\n\n'
        + '[release.approvals]\nmajor = { roles = ["cto", "engineering-manager"], require = "all" }\n\n'
        + '[metrics]\nprovider = "none"\ninterval = 15\n[metrics.series.error_rate]\nunit = "%"\nbaseline = 1\nrollback_above = 5.0\n\n'
        + '[watch]\ndeploy_window = "1h30m"\nbreach_for = 90\nblind_after = "45s"\n',
    )
    config = load_config(path)
    assert config.project.name == "product"
    assert config.release.window.days == ("thu", "fri")
    assert config.release.window.start == "09:30"
    assert config.release.window.timezone == "Europe/Berlin"
    assert config.approval_rule("major").roles == ("cto", "engineering-manager")
    assert config.approval_rule("major").require == "all"
    assert config.approval_rule("hotfix").roles == ()
    assert config.metrics.provider == "none"
    assert config.metrics_interval == 15.0
    assert [(s.name, s.unit, s.baseline, s.rollback_above) for s in config.series] == [("error_rate", "%", 1.0, 5.0)]
    assert (config.watch.deploy_window, config.watch.breach_for, config.watch.blind_after) == (5400.0, 90.0, 45.0)


def test_what_init_renders_loads_with_the_expected_values(tmp_path: Path) -> None:
    path = _write(tmp_path, render(default_sections(RepoFacts.assumed("product", "git@github.com:org/product.git"), "alice")))
    config = load_config(path)

    assert config.project.name == "product"
    assert config.project.compare_url == "https://github.com/org/product/compare/{previous}...{tag}"
    assert config.release.tag_pattern == "v{version}"
    assert config.approval_rule("regular").roles == ("engineering-manager",)
    assert (config.approval_rule("major").roles, config.approval_rule("major").require) == (("cto", "product"), "all")
    assert config.roles["cto"] == ("alice",)  # the person running init, never invented people
    assert config.release.rollback_roles == ("engineering-manager", "cto", "on-call")
    assert {kind: p.provider for kind, p in config.providers.items()} == {
        "image": "none", "deploy": "none", "metrics": "none", "smoke": "none", "notify": "console", "ci": "none", "flags": "none", "email": "none"
    }
    assert sorted(config.environments) == ["production", "staging"]
    assert [series.name for series in config.series] == ["error_rate", "p95_latency", "queue_depth"]
    assert config.metrics_interval == 10.0
    assert (config.watch.deploy_window, config.watch.post_release, config.watch.breach_for, config.watch.blind_after) == (1800.0, 7200.0, 120.0, 60.0)


@pytest.mark.parametrize(
    ("remote", "compare_url"),
    [
        ("https://github.com/org/product.git", "https://github.com/org/product/compare/{previous}...{tag}"),
        ("git@gitlab.com:org/product.git", ""),
        ("", ""),
    ],
)
def test_compare_url_only_for_github_remotes(tmp_path: Path, remote: str, compare_url: str) -> None:
    config = load_config(_write(tmp_path, render(default_sections(RepoFacts.assumed("product", remote), "alice"))))
    assert config.project.compare_url == compare_url


def test_cli_reports_a_malformed_config_in_one_line_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "[watch]\nbreach_for = true\n")

    result = _run("--config", path, "--repo", tmp_path, "status", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"{path}:{AFTER_HEADER + 2}:" in result.stderr  # file:line, as compilers print it
    assert "[watch.breach_for]" in result.stderr


def test_cli_reports_a_toml_syntax_error_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "[watch]\nbreach_for = \n")

    result = _run("--config", path, "--repo", tmp_path, "status", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{path}:{AFTER_HEADER + 2}: [watch.breach_for] not valid TOML" in result.stderr


def test_doctor_reports_a_bad_provider_setting_instead_of_passing(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + '[deploy]\nprovider = "simulated"\ntasks = "four"\n' + SANDBOX)

    result = _run("--config", path, "--repo", tmp_path, "doctor", cwd=tmp_path)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "all checks passed" not in result.stdout
    assert "Traceback" not in result.stderr
    assert f"{path}:{AFTER_HEADER + 3}: [deploy.tasks]" in result.stderr


def test_provider_settings_are_parsed_with_their_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[deploy]\nprovider = "simulated"\nduration = "1m30s"\n\n[smoke]\nprovider = "simulated"\nper_check = 2\n' + SANDBOX))
    assert config.deploy.settings == {"duration": 90.0, "tasks": 4}
    assert config.smoke.settings == {"per_check": 2.0}


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite_it(tmp_path: Path) -> None:
    repo = tmp_path / "product"
    repo.mkdir()
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:org/product.git"], check=True)

    first = _run("--repo", repo, "init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    path = repo / "shipdeck.toml"
    written = path.read_bytes()
    config = load_config(path)
    assert config.project.name == "product"
    assert config.project.compare_url == "https://github.com/org/product/compare/{previous}...{tag}"
    text = path.read_text(encoding="utf-8")
    assert "simulated" not in text  # init never writes a config that fakes production
    assert '# provider = "datadog"' in text  # a commented example of each real provider
    assert "alice" not in text and "carol" not in text  # no invented people
    assert "develop branch none" in first.stderr and "no Alembic migrations folder" in first.stderr

    second = _run("--repo", repo, "init", cwd=tmp_path)
    assert second.returncode == 2
    assert "already exists" in second.stderr and "--force" in second.stderr
    assert "Traceback" not in second.stderr
    assert path.read_bytes() == written

    path.write_text("# edited by hand\n", encoding="utf-8")
    forced = _run("--repo", repo, "init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert path.read_bytes() == written
