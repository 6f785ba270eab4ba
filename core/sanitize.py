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
# C0/C1 controls, and the bidi overrides that can make a line read differently than it is.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every terminal control removed; newlines and tabs become spaces unless kept."""
    text = str(text)
    if text.isprintable():  # the common case (20,000 commit subjects), far cheaper than the regexes
        return text
    if not keep_newlines:
        text = text.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))
