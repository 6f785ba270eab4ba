"""`[deploy] provider = "github-actions"` and `[ci] provider = "github"` in shipdeck.toml, and doctor."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.github_fake import running_fake

from shipdeck.core.clock import SystemClock
from shipdeck.core.config import ConfigError, load_config
from shipdeck.core.providers.wiring import check_providers

TOKEN = "ghs_doctortoken"


def write(tmp_path: Path, deploy: str, ci: str = 'provider = "github"\nrepository = "acme/shop"\n') -> Path:
    path = tmp_path / "shipdeck.toml"
    path.write_text(f'[project]\nname = "shop"\n\n[deploy]\n{deploy}\n[ci]\n{ci}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("deploy", "key", "words"),
    [
        ('provider = "github-actions"\nrepository = "acme/shop"\n', "workflow", "needs workflow"),
        ('provider = "github-actions"\nrepository = "acme"\nworkflow = "deploy.yml"\n', "repository", "owner/name"),
        ('provider = "github-actions"\nrepository = "acme/shop"\nworkflow = "deploy.yml"\napi_url = "http://github.example.com"\n', "api_url", "https"),
        ('provider = "github-actions"\nrepository = "acme/shop"\nworkflow = ".github/workflows/deploy.yml"\n', "workflow", "file name"),
        ('provider = "github-actions"\nrepository = "acme/shop"\nworkflow = "deploy.yml"\ntoken_env = "ghp_abc-123"\n', "token_env", "NAME of an environment variable"),
    ],
)
def test_bad_settings_name_the_file_key_and_line(tmp_path: Path, deploy: str, key: str, words: str) -> None:
    path = write(tmp_path, deploy)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message and key in message and words in message, message


def test_doctor_reaches_the_repository_and_the_workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_fake(token=TOKEN) as fake:
        common = f'repository = "acme/shop"\napi_url = "{fake.url}"\n'
        path = write(tmp_path, f'provider = "github-actions"\n{common}workflow = "deploy.yml"\n', f'provider = "github"\n{common}')
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        rows = {row.what: row for row in check_providers(load_config(path), SystemClock(), None)}
        assert rows["deploy: github-actions"].ok and "deploy.yml" in rows["deploy: github-actions"].detail
        assert rows["ci: github"].ok and rows["deploy.token_env"].ok
        monkeypatch.setenv("GITHUB_TOKEN", "ghs_stale987")
        rows = {row.what: row for row in check_providers(load_config(path), SystemClock(), None)}
        assert not rows["deploy: github-actions"].ok and "401" in rows["deploy: github-actions"].detail
        assert not rows["ci: github"].ok
        assert all("ghs_stale987" not in row.detail for row in rows.values())
