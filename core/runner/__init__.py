"""The runner: drives one release from its journal through the step families.

`loop` owns the asyncio loop, commands and the journal; `context` is what a step may use;
`effects` is the one idempotent side effect; one module per step family registers handlers.
"""

from __future__ import annotations

from .context import Services, StepContext
from .loop import Runner

__all__ = ["Runner", "Services", "StepContext"]
