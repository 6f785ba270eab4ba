"""Untrusted text (commit messages, API errors, metric tags) made safe to show.

Terminal control sequences are removed, never interpreted: ESC-based CSI/OSC/DCS sequences,
lone C0 controls except newline and tab, and the C1 range (which some terminals treat as
ESC-prefixed controls on their own).
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI ... final byte
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC ... BEL or ST (or unterminated)
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?     # DCS / SOS / PM / APC ... ST
    | \x1b[@-Z\\-_]                    # two-byte escapes
    | \x1b                             # a lone ESC
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every terminal control removed; newlines become spaces unless kept."""
    cleaned = _CONTROLS.sub("", _ESCAPES.sub("", str(text)))
    if not keep_newlines:
        cleaned = cleaned.replace("\n", " ").replace("\t", " ")
    return cleaned
