"""What a command asks of a release run: its own module so that the cockpit's process, which
only starts the runner process, never imports the session (and with it the providers)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    config_path: Path
    repo_path: Path
    environment: str = "production"
    release_type: str = "regular"
    version: str | None = None
    auto: bool = False
    assume_yes: bool = False
    force: bool = False
    interactive: bool = False
    resume_only: bool = False
    command_name: str = "release"
