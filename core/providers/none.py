"""`provider = "none"`: the system is not used. Steps that need it wait for a person or say
they did not run; nothing is ever reported as passed on its behalf."""

from __future__ import annotations

from .registry import ProviderSpec

PROVIDERS = tuple(
    ProviderSpec(kind, "none", f"no {kind} system: the steps that need one wait for a person or are marked not checked")
    for kind in ("image", "deploy", "metrics", "smoke", "ci", "flags")
)
