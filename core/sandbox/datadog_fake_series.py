"""What the loopback fake of Datadog measures: metric models, scenarios and formulas.

Values are a pure function of (query text, bucket time, what production ran then, scenario),
so asking twice for the same window gives the same numbers: a backfill after a restart sees
exactly what a live poll saw. Formulas are parsed by a tiny recursive-descent parser (numbers,
query names, + - * /, parentheses): nothing from a request is ever evaluated as Python.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Union

# Per-series behaviour once production runs a tag other than the initial one.
SERIES_SCENARIOS = ("healthy", "regression", "blind", "garbage")

ProductionView = Callable[[float], str]  # seconds since the epoch -> the tag production ran then


@dataclass(frozen=True)
class MetricModel:
    """One metric the fake knows: its level on the initial tag and under a regression.

    `noise` is the relative standard deviation; `count` metrics (`.as_count()`) scale with the
    bucket size, as Datadog's counts do.
    """

    healthy: float
    regressed: float
    noise: float = 0.05
    count: bool = False


DEFAULT_METRICS: Mapping[str, MetricModel] = {
    "trace.http.request.hits": MetricModel(healthy=100.0, regressed=100.0, noise=0.03, count=True),
    "trace.http.request.errors": MetricModel(healthy=0.45, regressed=7.5, noise=0.1, count=True),
    "trace.http.request": MetricModel(healthy=310.0, regressed=2600.0, noise=0.06),  # p95, ms
    "celery.queue.depth": MetricModel(healthy=22.0, regressed=140.0, noise=0.2),
}

_QUERY = re.compile(r"^\s*(?:[A-Za-z0-9_]+:)?([A-Za-z0-9_.]+)\s*\{[^{}]*\}")


class QueryError(ValueError):
    """A query or formula the fake cannot parse; answered with 400 like Datadog does."""


def metric_name(query: str) -> str:
    """`p95:trace.http.request{service:web}` -> `trace.http.request`. Raises QueryError."""
    match = _QUERY.match(query)
    if match is None:
        raise QueryError(f"Error parsing query: {query[:80]!r}")
    return match.group(1)


def timeline(initial_tag: str, switches: Sequence[tuple[float, str]] = ()) -> ProductionView:
    """A production view from the initial tag and each (at, tag) switch, in any order."""
    ordered = sorted(switches)

    def production(at: float) -> str:
        tag = initial_tag
        for switched_at, switched_to in ordered:
            if switched_at > at:
                break
            tag = switched_to
        return tag

    return production


def _noise(query: str, at_ms: int) -> float:
    seed = int.from_bytes(hashlib.blake2b(f"{query}|{at_ms}".encode(), digest_size=8).digest(), "big")
    return random.Random(seed).gauss(0.0, 1.0)


def query_value(query: str, model: MetricModel | None, scenario: str, changed: bool, at_ms: int, interval_ms: int) -> float | None:
    """The value of `query` in the bucket starting at `at_ms`; None is no data."""
    if model is None:
        return None  # Datadog has no series for a metric nobody sends
    if changed and scenario == "blind":
        return None
    if changed and scenario == "garbage":
        return (math.nan, math.inf, -1.0)[(at_ms // max(interval_ms, 1)) % 3]
    level = model.regressed if changed and scenario == "regression" else model.healthy
    value = max(0.0, level * (1.0 + model.noise * _noise(query, at_ms)))
    if model.count:
        value *= interval_ms / 10_000.0
    return round(value, 6)


# A formula is parsed once into a small tree: ("num", x) | ("name", n) | ("neg", t) | (op, l, r).
Node = Union[tuple[str, float], tuple[str, str], tuple[str, "Node"], tuple[str, "Node", "Node"]]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def parse_formula(text: str) -> Node:
    """Parse `100 * errors / hits`. Raises QueryError naming what it could not read."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            break
        number, name, symbol = match.groups()
        if number is not None:
            tokens.append(("num", number))
        elif name is not None:
            tokens.append(("name", name))
        elif symbol is not None:
            if symbol not in "+-*/()":
                raise QueryError(f"Error parsing formula {text[:80]!r}: unexpected {symbol!r}")
            tokens.append(("sym", symbol))
        position = match.end()
    parser = _Parser(tokens, text)
    tree = parser.expression()
    if parser.index != len(tokens):
        raise QueryError(f"Error parsing formula {text[:80]!r}: unexpected {tokens[parser.index][1]!r}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.index = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def expression(self) -> Node:
        return self._chain("+-", self.term)

    def term(self) -> Node:
        return self._chain("*/", self.factor)

    def _chain(self, operators: str, operand: Callable[[], Node]) -> Node:
        """Left-associative `operand (op operand)*` for the given operator symbols."""
        tree = operand()
        while (token := self._peek()) is not None and token[0] == "sym" and token[1] in operators:
            self.index += 1
            tree = (token[1], tree, operand())
        return tree

    def factor(self) -> Node:
        token = self._peek()
        if token is None:
            raise QueryError(f"Error parsing formula {self.text[:80]!r}: it ends too early")
        self.index += 1
        kind, text = token
        if kind == "num":
            return ("num", float(text))
        if kind == "name":
            return ("name", text)
        if text == "-":
            return ("neg", self.factor())
        if text == "(":
            tree = self.expression()
            closing = self._peek()
            if closing != ("sym", ")"):
                raise QueryError(f"Error parsing formula {self.text[:80]!r}: missing ')'")
            self.index += 1
            return tree
        raise QueryError(f"Error parsing formula {self.text[:80]!r}: unexpected {text!r}")


def names_in(tree: Node) -> set[str]:
    """The query names a formula refers to."""
    if tree[0] == "name":
        return {str(tree[1])}
    if tree[0] == "num":
        return set()
    return set().union(*(names_in(child) for child in tree[1:] if isinstance(child, tuple)))


def evaluate(tree: Node, values: Mapping[str, float | None]) -> float | None:
    """The formula's value for one bucket; None when an input has no data or on division by zero."""
    kind = tree[0]
    if kind == "num":
        return float(tree[1])  # type: ignore[arg-type]
    if kind == "name":
        return values.get(str(tree[1]))
    if kind == "neg":
        inner = evaluate(tree[1], values)  # type: ignore[arg-type]
        return None if inner is None else -inner
    left = evaluate(tree[1], values)  # type: ignore[arg-type]
    right = evaluate(tree[2], values)  # type: ignore[misc]
    if left is None or right is None:
        return None
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    if right == 0:
        return None
    return left / right
