"""The exact command that continues a release from another shell (no Textual import)."""

from __future__ import annotations

import shlex
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipdeck.core.options import Options


def resume_command(options: Options, *, auto: bool = False) -> str:
    """`shipdeck [--config F] [--repo R] resume [--env E] [--auto]` for the session's options.

    --config and --repo are named only when they differ from what a bare command in the
    current directory would use, so the common case stays short.
    """
    argv = ["shipdeck"]
    if Path(options.config_path).resolve() != (Path(options.repo_path) / "shipdeck.toml").resolve():
        argv += ["--config", str(Path(options.config_path).resolve())]
    if Path(options.repo_path).resolve() != Path.cwd().resolve():
        argv += ["--repo", str(Path(options.repo_path).resolve())]
    argv.append("resume")
    if options.environment != "production":
        argv += ["--env", options.environment]
    if auto:
        argv.append("--auto")
    return shlex.join(argv)
