"""Fast paths stay fast: `--version` and `status` load no UI or cloud SDK, and core/ never imports a screen library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import shipdeck.core
from engine_events import started
from shipdeck.core.config import load_config
from shipdeck.core.config_writer import default_sections, render
from shipdeck.core.repo_facts import RepoFacts
from shipdeck.core.journal import Journal
from shipdeck.core.session import store_for

CORE_DIR = Path(shipdeck.core.__file__).parent
UI_LIBRARIES = {"textual", "textual_plotext", "plotext", "rich"}
HEAVY_FOR_STATUS = ("textual", "textual_plotext", "boto3", "botocore", "datadog_api_client", "git")  # git: GitPython
HEAVY_FOR_VERSION = (*HEAVY_FOR_STATUS, "rich", "git", "httpx")

# Runs the CLI's main in a fresh interpreter, then reports which of the named packages got imported.
PROBE = """
import contextlib, io, json, sys
from shipdeck.tui.cli import main

argv, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
output = io.StringIO()
with contextlib.redirect_stdout(output):
    try:
        code = main(argv)
    except SystemExit as exit:
        code = exit.code
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(watched))
print(json.dumps({"code": code, "output": output.getvalue(), "loaded": loaded}))
"""


def _probe(argv: list[str], watched: tuple[str, ...], cwd: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(watched)], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_version_imports_no_ui_cloud_or_git_library(tmp_path: Path) -> None:
    report = _probe(["--version"], HEAVY_FOR_VERSION, tmp_path)
    assert report["code"] == 0
    assert str(report["output"]).startswith("shipdeck ")
    assert report["loaded"] == []


def test_status_imports_no_ui_or_cloud_library(tmp_path: Path) -> None:
    (tmp_path / "shipdeck.toml").write_text(render(default_sections(RepoFacts.assumed("product", "git@github.com:org/product.git"), "alice")), encoding="utf-8")

    report = _probe(["--repo", str(tmp_path), "status"], HEAVY_FOR_STATUS, tmp_path)

    assert report["code"] == 0
    assert report["output"] == "no releases yet for production\n"
    assert report["loaded"] == []


def test_status_of_an_active_release_imports_no_ui_or_cloud_library(tmp_path: Path) -> None:
    config_path = tmp_path / "shipdeck.toml"
    config_path.write_text(render(default_sections(RepoFacts.assumed("product", ""), "alice")), encoding="utf-8")
    store = store_for(load_config(config_path), tmp_path, "production")
    event = started()
    journal = Journal(store.journal_path("r1"))
    journal.append(event.kind, dict(event.data), at=event.at)
    journal.close()

    report = _probe(["--repo", str(tmp_path), "status"], HEAVY_FOR_STATUS, tmp_path)

    assert report["code"] == 0
    assert str(report["output"]).startswith("v1.4.0 (regular) to production: ")
    assert report["loaded"] == []


def test_the_probe_would_see_a_heavy_import(tmp_path: Path) -> None:
    """Guards the guard: a package imported during the run is reported."""
    report = _probe(["--version"], ("json", "argparse"), tmp_path)
    assert report["loaded"] == ["argparse", "json"]


def ui_imports(source: str) -> set[str]:
    """Top-level names of the UI libraries that `source` imports, at any depth of the module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & UI_LIBRARIES
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import textual", {"textual"}),
        ("from rich.console import Console", {"rich"}),
        ("def later():\n    import textual.app as app\n", {"textual"}),
        ("import json, rich.text", {"rich"}),
        ("from .textual import x\nimport richer\nimport textualize", set()),
    ],
)
def test_ui_imports_finds_imports_anywhere_in_a_module(source: str, expected: set[str]) -> None:
    assert ui_imports(source) == expected


def test_no_core_module_imports_textual_or_rich() -> None:
    modules = sorted(CORE_DIR.rglob("*.py"))
    assert len(modules) > 10, f"found only {len(modules)} modules under {CORE_DIR}"
    offenders = {
        str(path.relative_to(CORE_DIR)): sorted(names)
        for path in modules
        if (names := ui_imports(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
