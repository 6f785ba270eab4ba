"""Where a key sits in TOML source: tomllib parses values but reports no positions."""

from __future__ import annotations

import re


class KeyLines:
    """Finds the line of a dotted key in TOML source (tomllib does not report positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, key: str) -> int | None:
        parts = key.split(".")
        for depth in range(len(parts), 0, -1):
            table, leaf = parts[: depth - 1], parts[depth - 1]
            line = self._find(table, leaf)
            if line:
                return line
        return None

    def _find(self, table: list[str], leaf: str) -> int | None:
        header = ".".join(table)
        current = ""
        for number, raw in enumerate(self.lines, start=1):
            stripped = raw.strip()
            match = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
            if match:
                current = match.group(1).replace('"', "").replace(" ", "")
                if f"{current}" == ".".join(table + [leaf]):
                    return number
                continue
            if current == header and re.match(rf'^"?{re.escape(leaf)}"?\s*=', stripped):
                return number
        return None


def key_at(text: str, line: int | None) -> str:
    """The dotted key written on `line` (1-based), from the nearest table header above it."""
    if not line:
        return ""
    lines = text.splitlines()
    if line > len(lines):
        return ""
    table = ""
    for raw in lines[: line - 1]:
        header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", raw)
        if header:
            table = header.group(1).replace('"', "").replace(" ", "")
    assignment = re.match(r'^\s*"?([A-Za-z0-9_.-]+)"?\s*=', lines[line - 1])
    if not assignment:
        return table
    return f"{table}.{assignment.group(1)}" if table else assignment.group(1)
