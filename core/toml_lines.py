"""Where a key sits in TOML source: tomllib parses values but reports no positions."""

from __future__ import annotations

import re


class KeyLines:
    """Finds the line of a dotted key in TOML source (tomllib does not report positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def line_of(self, key: str) -> int | None:
        """The line of `key`; `smoke.checks[2].steps` is `steps` in the second `[[smoke.checks]]`."""
        if "[" in key:
            found = self._indexed(key)
            if found:
                return found
            key = re.sub(r"\[\d+\]", "", key)
        parts = key.split(".")
        for depth in range(len(parts), 0, -1):
            table, leaf = parts[: depth - 1], parts[depth - 1]
            line = self._find(table, leaf)
            if line:
                return line
        return None

    def _indexed(self, key: str) -> int | None:
        """`table[N].leaf`: the leaf inside the N-th (1-based) `[[table]]`, else that header's line."""
        head, _, rest = key.partition("]")
        table, _, number = head.rpartition("[")
        if not number.isdigit():
            return None
        headers = [n for n, raw in enumerate(self.lines, start=1) if _header(raw) == ("[[", table)]
        if not 0 < int(number) <= len(headers):
            return None
        start = headers[int(number) - 1]
        leaf = rest.lstrip(".").split(".")[0].split("[")[0]
        for line_number, raw in enumerate(self.lines[start:], start=start + 1):
            if _header(raw) is not None:
                break
            if leaf and re.match(rf'^\s*"?{re.escape(leaf)}"?\s*=', raw):
                return line_number
        return start

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


def _header(raw: str) -> tuple[str, str] | None:
    """("[[" or "[", dotted name) when the line is a table header."""
    match = re.match(r'^\s*(\[\[?)\s*([A-Za-z0-9_."\s.-]+?)\s*\]\]?\s*(#.*)?$', raw)
    if not match:
        return None
    return match.group(1), match.group(2).replace('"', "").replace(" ", "")
