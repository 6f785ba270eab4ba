"""The `[[smoke.checks]]` model: parsed and validated once, at config load.

A check is either a sequence of HTTP steps against the environment's base URL (`kind =
"http"`, the default) or an argv run with a deadline (`kind = "command"`). Values may use
`${VAR}` (read from the environment when the check runs; a secret, masked in every output)
and `{name}` (a value saved by an earlier step of the same check). Validation errors raise
`SettingError` with a key such as `checks[2].steps`, which the config loader turns into
file, key and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from ..durations import parse_duration
from .registry import SettingError

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SAVED_REFERENCE = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
COMMAND_PLACEHOLDERS = ("environment", "url", "version")
CHECK_KEYS = {"http": {"name", "kind", "steps"}, "command": {"name", "kind", "argv", "timeout"}}
STEP_KEYS = {"method", "path", "json", "headers", "expect", "save"}
EXPECT_KEYS = {"status", "json", "body", "max_ms"}
DEFAULT_COMMAND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Expect:
    """What a response must show. `json` maps dotted paths (`user.email`, `items.0.id`) to values."""

    status: int | None = 200
    json: Mapping[str, Any] = field(default_factory=dict)
    body: str | None = None
    max_ms: float | None = None

    def describe(self) -> str:
        """The expectation in one line (placeholders as written: values are never shown)."""
        parts = [f"status {self.status}"] if self.status is not None else []
        parts += [f"{path} = {value!r}" for path, value in self.json.items()]
        if self.body is not None:
            parts.append(f"body contains {self.body!r}")
        if self.max_ms is not None:
            parts.append(f"within {self.max_ms:g} ms")
        return ", ".join(parts) or "any answer"


@dataclass(frozen=True)
class Step:
    """One request of an HTTP check; `save` maps a name to `json:dotted.path` or `header:Name`."""

    method: str
    path: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    expect: Expect = Expect()
    save: Mapping[str, str] = field(default_factory=dict)

    @property
    def request(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class SmokeCheck:
    """One critical path: HTTP `steps`, or an `argv` with a `timeout` when `kind` is "command"."""

    name: str
    kind: str = "http"
    steps: tuple[Step, ...] = ()
    argv: tuple[str, ...] = ()
    timeout: float = DEFAULT_COMMAND_TIMEOUT

    def variables(self) -> set[str]:
        """Every `${VAR}` the check reads from the environment."""
        found: set[str] = set()
        for step in self.steps:
            for text in _strings((step.path, step.json, dict(step.headers), dict(step.expect.json), step.expect.body)):
                found.update(ENV_REFERENCE.findall(text))
        return found


def parse_checks(section: Mapping[str, Any]) -> tuple[SmokeCheck, ...]:
    """The `[smoke]` table's `checks`, validated. Raises SettingError naming the check and key."""
    checks = section.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(check, Mapping) for check in checks):
        raise SettingError("checks", "expected an array of tables ([[smoke.checks]]), each with a name and steps or argv")
    if not checks:
        raise SettingError("checks", 'provider = "http" runs the [[smoke.checks]] tables, and none is configured; see `shipdeck init` for the five critical paths')
    parsed = tuple(_check(index, table) for index, table in enumerate(checks, start=1))
    names = [check.name for check in parsed]
    for index, name in enumerate(names, start=1):
        if names.index(name) + 1 != index:
            raise SettingError(f"checks[{index}].name", f"two checks are named {name!r}: each critical path needs its own name (it labels the evidence)")
    return parsed


def check_section(section: Mapping[str, Any]) -> None:
    """The registry's whole-section check for `[smoke] provider = "http"`."""
    parse_checks(section)


def _check(index: int, table: Mapping[str, Any]) -> SmokeCheck:
    where = f"checks[{index}]"
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SettingError(f"{where}.name", f'check #{index} needs a name = "…" (it labels the evidence)')
    kind = table.get("kind", "http")
    if kind not in CHECK_KEYS:
        raise SettingError(f"{where}.kind", f'check {name!r}: kind is "http" (steps) or "command" (argv), found {kind!r}')
    _only(f"{where}", table, CHECK_KEYS[kind], f"a {kind} check")
    if kind == "command":
        return _command(where, name, table)
    steps = table.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(step, Mapping) for step in steps):
        raise SettingError(f"{where}.steps", f"check {name!r} needs steps = [ {{ method = \"GET\", path = \"/…\", expect = {{ status = 200 }} }}, … ]")
    saved: set[str] = set()
    parsed = []
    for number, step in enumerate(steps, start=1):
        parsed.append(_step(f"{where}.steps", f"check {name!r}, step {number}", step, saved))
        saved.update(parsed[-1].save)
    return SmokeCheck(name=name, kind="http", steps=tuple(parsed))


def _command(where: str, name: str, table: Mapping[str, Any]) -> SmokeCheck:
    argv = table.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(arg, str) for arg in argv):
        raise SettingError(f"{where}.argv", f'check {name!r}: argv is the command as a list of arguments, like ["./scripts/check-sendgrid.sh", "{{environment}}"]')
    for argument in argv:
        if ENV_REFERENCE.search(argument):
            raise SettingError(
                f"{where}.argv",
                f"check {name!r}: argv is run without a shell, so ${{VAR}} is not expanded (and an argument is visible to "
                "every user in `ps`); the command inherits the environment: read the variable there",
            )
        unknown = set(SAVED_REFERENCE.findall(argument)) - set(COMMAND_PLACEHOLDERS)
        if unknown:
            raise SettingError(f"{where}.argv", f"check {name!r}: unknown placeholder {{{sorted(unknown)[0]}}}; a command takes {{environment}}, {{url}} and {{version}}")
    timeout = table.get("timeout", DEFAULT_COMMAND_TIMEOUT)
    try:
        if isinstance(timeout, bool) or not isinstance(timeout, (str, int, float)):
            raise ValueError(f'expected a duration like "60s", found {timeout!r}')
        seconds = parse_duration(timeout)
    except ValueError as error:
        raise SettingError(f"{where}.timeout", f"check {name!r}: {error}") from None
    if seconds <= 0:
        raise SettingError(f"{where}.timeout", f"check {name!r}: the deadline must be more than zero")
    return SmokeCheck(name=name, kind="command", argv=tuple(argv), timeout=seconds)


def _step(key: str, label: str, table: Mapping[str, Any], saved: set[str]) -> Step:
    _only(key, table, STEP_KEYS, label)
    method = table.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise SettingError(key, f"{label}: method is one of {', '.join(METHODS)}, found {method!r}")
    path = table.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise SettingError(key, f'{label}: path is the request path below the environment\'s url, like "/api/login", found {path!r}')
    headers = table.get("headers", {})
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise SettingError(key, f'{label}: headers is a table of strings, like {{ Authorization = "Bearer {{token}}" }}')
    expect = _expect(key, label, table.get("expect", {}))
    save = table.get("save", {})
    if not isinstance(save, Mapping):
        raise SettingError(key, f'{label}: save is a table like {{ token = "json:token" }}')
    for name, source in save.items():
        if not isinstance(source, str) or not re.fullmatch(r"(json:[^\s]+|header:[A-Za-z0-9-]+)", source):
            raise SettingError(key, f'{label}: save.{name} is "json:dotted.path" or "header:Name", found {source!r}')
    body = table.get("json")
    for text in _strings((path, body, dict(headers), dict(expect.json), expect.body)):
        unknown = set(SAVED_REFERENCE.findall(text)) - saved
        if unknown:
            missing = sorted(unknown)[0]
            raise SettingError(key, f"{label} uses {{{missing}}}, which no earlier step of this check saves (save = {{ {missing} = \"json:…\" }})")
    return Step(method=method.upper(), path=path, json=body, headers=dict(headers), expect=expect, save=dict(save))


def _expect(key: str, label: str, table: Any) -> Expect:
    if not isinstance(table, Mapping):
        raise SettingError(key, f"{label}: expect is a table like {{ status = 200, json = {{ \"user.email\" = \"…\" }} }}")
    _only(key, table, EXPECT_KEYS, f"{label}: expect")
    status = table.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise SettingError(key, f"{label}: expect.status is an HTTP status like 200, found {status!r}")
    fields = table.get("json", {})
    if not isinstance(fields, Mapping):
        raise SettingError(key, f'{label}: expect.json maps dotted paths to values, like {{ "user.email" = "${{SMOKE_EMAIL}}" }}')
    body = table.get("body")
    if body is not None and not isinstance(body, str):
        raise SettingError(key, f"{label}: expect.body is text the body must contain, found {body!r}")
    max_ms = table.get("max_ms")
    if max_ms is not None and (isinstance(max_ms, bool) or not isinstance(max_ms, (int, float)) or max_ms <= 0):
        raise SettingError(key, f"{label}: expect.max_ms is a number of milliseconds like 800, found {max_ms!r}")
    return Expect(status=status, json=dict(fields), body=body, max_ms=float(max_ms) if max_ms is not None else None)


def _only(key: str, table: Mapping[str, Any], allowed: set[str], label: str) -> None:
    import difflib

    for name in table:
        if name not in allowed:
            hint = difflib.get_close_matches(name, sorted(allowed), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; it takes: {', '.join(sorted(allowed))}"
            raise SettingError(key, f"{label}: unknown key '{name}'{suggestion}")


def _strings(value: Any) -> Iterator[str]:
    """Every string inside `value` (nested tables and arrays), keys of tables included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
