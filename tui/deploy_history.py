"""How long this repository's deploys to this environment took before: the ETA's history."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Iterable

from shipdeck.core.journal import Journal
from shipdeck.core.machine import fold
from shipdeck.core.model import StepStatus

DEPLOY_STEP = "deploy"
JOURNALS_READ = 20  # the newest ones: recent deploys say most about this one, and reading stays cheap


@dataclass(frozen=True)
class DeployHistory:
    """The median duration of earlier successful deploys, and how many it is taken over."""

    median_seconds: float | None = None
    deploys: int = 0


def deploy_history(paths: Iterable[Path], *, environment: str, current: Path | None = None) -> DeployHistory:
    """Successful `deploy` steps of the newest journals in `paths` (not `current`), to `environment`.

    Blocking: call from a thread. An unreadable journal is left out rather than failing the
    ETA, which then falls back to extrapolating from progress.
    """
    earlier = [path for path in paths if current is None or path != current][-JOURNALS_READ:]
    durations: list[float] = []
    for path in earlier:
        try:
            state = fold(Journal(path).load(repair=False))
        except (OSError, ValueError, KeyError):
            continue
        step = state.step(DEPLOY_STEP) if state.started else None
        if step is None or state.environment != environment or step.status is not StepStatus.PASSED:
            continue
        if step.started_at is not None and step.finished_at is not None and step.finished_at > step.started_at:
            durations.append(step.finished_at - step.started_at)
    return DeployHistory(median(durations), len(durations)) if durations else DeployHistory()
