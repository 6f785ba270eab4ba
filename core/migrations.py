"""Zero-downtime check of the Alembic migrations a release adds.

Migration files are read from git at the release commit and parsed with ``ast``
(``migrations_ast``: the project's code is never imported or executed by that check);
squawk reads the SQL they run (``migrations_squawk``); where the version folders are is
``migrations_folders``. This module runs them over a range and reports.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .migrations_ast import Finding, check_source
from .migrations_folders import MigrationCheckError, find_version_folders, git_text
from .migrations_squawk import run_squawk

__all__ = ["Finding", "MigrationCheckError", "MigrationReport", "check_migrations", "find_version_folders", "render_report"]


@dataclass(frozen=True)
class MigrationReport:
    """What the check looked for, read and found between two refs.

    ``folders`` are the Alembic version folders found at ``to_ref``; when there are none the
    check did not run (``checked`` is False) and is never reported as passed. ``findings``
    holds the AST check's and squawk's (``Finding.checker`` says whose); ``squawk`` is
    squawk's status line, "squawk: not run (why)" when it did not run.
    """

    from_ref: str | None
    to_ref: str
    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    squawk: str
    folders: tuple[str, ...] = ()
    searched: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        return bool(self.folders)

    @property
    def safe(self) -> bool:
        """Checked, and nothing found by either checker."""
        return self.checked and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_ref, "to": self.to_ref, "checked": self.checked, "safe": self.safe,
            "folders": list(self.folders), "searched": list(self.searched),
            "files": list(self.files), "squawk": self.squawk,
            "findings": [vars(finding) for finding in self.findings],
        }


def check_migrations(
    repo_path: Path | str,
    from_ref: str | None,
    to_ref: str,
    directories: Sequence[str] = (),
) -> MigrationReport:
    """Check the migration files added between ``from_ref`` and ``to_ref`` (all, without from_ref).

    Args:
        directories: configured version folders, searched besides the ones Alembic's
            conventions and ``alembic.ini`` point to.
    """
    repo = Path(repo_path)
    folders, searched = find_version_folders(repo, to_ref, directories)
    if not folders:
        if from_ref:  # a bad ref is still an error, even with nothing to check
            _verify_ref(repo, from_ref)
        return MigrationReport(from_ref, to_ref, (), (), "squawk: not run (no migrations folder)", (), searched)
    files = _added_migrations(repo, from_ref, to_ref, folders)
    findings: list[Finding] = []
    sources: dict[str, str] = {}
    for path in files:
        sources[path] = git_text(repo, "show", f"{to_ref}:{path}")
        findings.extend(check_source(path, sources[path]))
    squawk, squawk_findings = run_squawk(repo, to_ref, sources)
    findings.extend(squawk_findings)
    findings.sort(key=lambda finding: (finding.file, finding.line, finding.checker))
    return MigrationReport(from_ref, to_ref, tuple(files), tuple(findings), squawk, folders, searched)


def _added_migrations(
    repo: Path, from_ref: str | None, to_ref: str, folders: Sequence[str]
) -> list[str]:
    if from_ref:
        # --no-renames: a migration moved into the directory counts as added.
        output = git_text(repo, "diff", "--name-status", "--no-renames", "--diff-filter=A",
                          from_ref, to_ref, "--", *folders)
        paths = [line.split("\t", 1)[1] for line in output.splitlines() if "\t" in line]
    else:
        paths = git_text(repo, "ls-tree", "-r", "--name-only", to_ref, "--", *folders).splitlines()
    return sorted(p for p in paths if p.endswith(".py") and not p.endswith("__init__.py"))


def render_report(report: MigrationReport) -> str:
    """Plain text for people: where it looked, verdict, one block per finding, squawk status."""
    if not report.checked:
        return (
            f"no Alembic migrations folder found at {report.to_ref} (looked for {', '.join(report.searched)})\n"
            "Zero-downtime check: not checked. If the project has migrations elsewhere, list their folder in "
            "[migrations] directories.\n"
        )
    span = f"{report.from_ref}..{report.to_ref}" if report.from_ref else report.to_ref
    lines = [f"Migration folders at {report.to_ref}: {', '.join(report.folders)}"]
    lines.append(f"Migrations added in {span}: {len(report.files)}")
    lines += [f"  {path}" for path in report.files]
    if report.safe:
        lines.append("Zero-downtime check: passed (additive only)")
    else:
        count = len(report.findings)
        lines.append(f"Zero-downtime check: {count} {'finding blocks' if count == 1 else 'findings block'} the release")
        for finding in report.findings:
            lines.append(f"  {finding.file}:{finding.line}: {finding.operation}: {finding.detail}")
            lines.append(f"    instead: {finding.alternative}")
    lines.append(report.squawk)
    return "\n".join(lines) + "\n"


def _verify_ref(repo: Path, ref: str) -> None:
    result = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MigrationCheckError(f"no commit {ref!r} in {repo.resolve()}; name a tag, branch or commit that exists")
