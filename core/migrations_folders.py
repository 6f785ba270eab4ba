"""Where a repository keeps its Alembic revisions, read from git at a ref."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ALEMBIC_INI", "CONVENTIONAL_FOLDERS", "MigrationCheckError", "find_version_folders", "git_text"]

# Where Alembic keeps revisions by convention, at any depth; alembic.ini's script_location (and
# version_locations) and the configured [migrations] directories are searched as well.
CONVENTIONAL_FOLDERS = ("alembic/versions", "migrations/versions")
ALEMBIC_INI = "alembic.ini (script_location, version_locations)"


class MigrationCheckError(Exception):
    """The refs or files could not be read from git."""


def find_version_folders(
    repo: Path, ref: str, directories: Sequence[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The Alembic version folders that hold files at ``ref``, and what was searched.

    Found: any ``*/alembic/versions`` or ``*/migrations/versions`` (any depth), the
    ``script_location`` + ``/versions`` and ``version_locations`` of every ``alembic.ini``,
    and the configured ``directories``; each only when git has files under it at ``ref``.
    """
    paths = git_text(repo, "ls-tree", "-r", "--name-only", "-z", ref).split("\0")
    dirs = {_parent(path) for path in paths if path}
    candidates = {d for d in dirs if any(d == c or d.endswith("/" + c) for c in CONVENTIONAL_FOLDERS)}
    searched = [f"**/{c}" for c in CONVENTIONAL_FOLDERS] + [ALEMBIC_INI]
    for ini in sorted(p for p in paths if p == "alembic.ini" or p.endswith("/alembic.ini")):
        for location in _ini_version_locations(git_text(repo, "show", f"{ref}:{ini}"), _parent(ini)):
            candidates.add(location)
            searched.append(f"{location} (from {ini})")
    for directory in directories:
        cleaned = directory.strip().strip("/")
        if cleaned:
            candidates.add(cleaned)
            searched.append(f"{cleaned} (configured)")
    found = sorted(c for c in candidates if any(d == c or d.startswith(c + "/") for d in dirs))
    return tuple(found), tuple(dict.fromkeys(searched))


def _ini_version_locations(text: str, ini_dir: str) -> list[str]:
    """Version folders an alembic.ini names, as paths from the repository root."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_section("alembic"):
        return []
    section = parser["alembic"]
    locations = []
    script = section.get("script_location", "").strip()
    if script:
        locations.append(_repo_path(script, ini_dir) + "/versions")
    locations += [_repo_path(extra, ini_dir) for extra in re.split(r"[\s,;:]+", section.get("version_locations", "")) if extra]
    # An absolute path or one above the repository cannot be read from git at a ref.
    return [location for location in locations if location and not location.startswith(("/", "../"))]


def _repo_path(value: str, ini_dir: str) -> str:
    """A script/version location from alembic.ini as a path from the repository root.

    Alembic resolves it against the directory it runs in, which is the ini's in practice;
    ``%(here)s`` is the ini's directory; ``package.module:folder`` is a package resource.
    """
    value = value.replace("%(here)s", ".")
    if value.startswith("/"):
        return value
    if ":" in value and "/" not in value.split(":", 1)[0]:
        package, folder = value.split(":", 1)
        value = package.replace(".", "/") + "/" + folder
    joined = Path(ini_dir or ".") / value
    parts: list[str] = []
    for part in joined.parts:
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def git_text(repo: Path, *args: str) -> str:
    """stdout of ``git -C repo args``; MigrationCheckError naming the command when it fails."""
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise MigrationCheckError(f"git {args[0]} failed in {repo}: {result.stderr.strip()}")
    return result.stdout
