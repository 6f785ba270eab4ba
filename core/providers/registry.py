"""The provider registry: each outside system is one module that declares itself.

A provider module in this package defines `PROVIDERS`, a tuple of `ProviderSpec`: its kind
and name, the settings its config table takes (validated at load with file/key/line errors),
which of them name environment variables holding secrets, `build` (which imports the
system's client lazily) and `check` for `shipdeck doctor`. The registry finds the modules by
scanning this package, so adding an integration is adding one module.

Simulated providers belong to the sandbox and join only a rehearsal registry (the demo and
`shipdeck release --rehearse`); production code never imports them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Mapping

from ..durations import parse_duration
from ..secrets import MissingSecret, Secret

if TYPE_CHECKING:
    from ..clock import Clock
    from ..config import Config

KINDS = ("image", "deploy", "metrics", "smoke", "notify", "ci", "flags", "email")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_PROVIDER_MODULES = {"base", "registry", "wiring", "git"}  # git: mechanics, not a configurable system


class SettingError(Exception):
    """A provider setting is wrong: `key` is relative to the provider's table."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Setting:
    """One key of a provider's table.

    `type` is one of: str, int, float, bool, duration, strings (a list of strings), argv (a
    non-empty list of strings: a command, never a shell line), table, env (the *name* of an
    environment variable that holds a secret), url.
    """

    type: str
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None  # for int, float and duration


@dataclass(frozen=True)
class Check:
    """One line of `shipdeck doctor`."""

    ok: bool
    what: str
    detail: str


@dataclass
class BuildContext:
    """What a provider may use when it is built: its validated settings and the release's world."""

    kind: str
    name: str
    settings: Mapping[str, Any]
    config: Config
    repo_path: Path | None
    clock: Clock
    environ: Mapping[str, str]
    environment: str = "production"  # the release's environment (tags, URLs)
    rehearsal: bool = False

    def secret(self, setting: str) -> Secret:
        """The secret whose environment variable the setting names. Raises MissingSecret."""
        return Secret.from_env(str(self.settings[setting]), self.environ)


Build = Callable[[BuildContext], Any]
CheckFunction = Callable[[BuildContext], Awaitable[list[Check]]]


@dataclass(frozen=True)
class ProviderSpec:
    kind: str
    name: str
    summary: str
    settings: Mapping[str, Setting] = field(default_factory=dict)
    build: Build | None = None  # None: the provider does nothing (e.g. "none")
    check: CheckFunction | None = None
    simulated: bool = False
    example: Mapping[str, Any] = field(default_factory=dict)  # what `shipdeck init` writes, commented
    # Checks the whole section table (e.g. metrics series queries); raises SettingError.
    check_section: Callable[[Mapping[str, Any]], None] | None = None

    @property
    def secret_settings(self) -> tuple[str, ...]:
        return tuple(name for name, setting in self.settings.items() if setting.type == "env")

    def validate(self, table: Mapping[str, Any], section_keys: Iterable[str] = ()) -> dict[str, Any]:
        """Settings with defaults filled in. Raises SettingError naming the key.

        `section_keys` belong to the section whatever the provider (read elsewhere): skipped here,
        but offered as suggestions for a misspelt key.
        """
        import difflib

        section = set(section_keys)
        allowed = set(self.settings) | {"provider"}
        for key in table:
            if key in section:
                continue
            if key not in allowed:
                hint = difflib.get_close_matches(key, sorted(allowed | section), n=1)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; it takes: {', '.join(sorted(allowed))}"
                raise SettingError(key, f"unknown key '{key}' for provider = \"{self.name}\"{suggestion}")
        values: dict[str, Any] = {}
        table = {k: v for k, v in table.items() if k not in section}
        for key, setting in self.settings.items():
            if key not in table:
                if setting.required:
                    raise SettingError(key, f"{self.kind} provider {self.name!r} needs {key} ({setting.help or setting.type})")
                values[key] = setting.default
                continue
            values[key] = _coerce(key, setting, table[key])
        return values


def _coerce(key: str, setting: Setting, value: Any) -> Any:
    number = _coerce_value(key, setting, value)
    if setting.minimum is not None and isinstance(number, (int, float)) and not isinstance(number, bool) and number < setting.minimum:
        raise SettingError(key, f"must be at least {setting.minimum:g}, found {value!r}")
    return number


def _coerce_value(key: str, setting: Setting, value: Any) -> Any:
    kind = setting.type
    found = f"found {type(value).__name__} {value!r}"
    if kind in ("str", "url", "env"):
        if not isinstance(value, str):
            raise SettingError(key, f"expected a string, {found}")
        if kind == "env" and not _ENV_NAME.match(value):
            raise SettingError(key, f"expected the NAME of an environment variable (like DD_API_KEY), {found}; secrets never go in the file")
        if kind == "url" and not re.match(r"^https?://[^\s/]+", value):
            raise SettingError(key, f"expected an http(s) URL, {found}")
        if setting.choices and value not in setting.choices:
            raise SettingError(key, f"expected one of {', '.join(setting.choices)}, {found}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise SettingError(key, f"expected true or false, {found}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingError(key, f"expected a whole number, {found}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingError(key, f"expected a number, {found}")
        return float(value)
    if kind == "duration":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SettingError(key, f'expected a duration like "90s", "30m" or "2h", {found}')
        try:
            return parse_duration(value)
        except ValueError as error:
            raise SettingError(key, str(error)) from None
    if kind in ("strings", "argv"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SettingError(key, f"expected a list of strings, {found}")
        if kind == "argv" and not value:
            raise SettingError(key, "expected a command as a list of arguments, like [\"./deploy.sh\", \"{version}\"]")
        return list(value)
    if kind == "table":
        if not isinstance(value, Mapping):
            raise SettingError(key, f"expected a table, {found}")
        return dict(value)
    raise SettingError(key, f"internal: unknown setting type {kind!r}")


class Registry:
    """Provider specs by (kind, name)."""

    def __init__(self, specs: Iterable[ProviderSpec] = (), *, rehearsal: bool = False) -> None:
        self.rehearsal = rehearsal
        self._specs: dict[tuple[str, str], ProviderSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: ProviderSpec) -> None:
        if spec.kind not in KINDS:
            raise ValueError(f"unknown provider kind {spec.kind!r}")
        self._specs[(spec.kind, spec.name)] = spec

    def get(self, kind: str, name: str) -> ProviderSpec | None:
        return self._specs.get((kind, name))

    def names(self, kind: str) -> list[str]:
        return sorted(name for k, name in self._specs if k == kind)

    def specs(self) -> list[ProviderSpec]:
        return list(self._specs.values())

    def unknown(self, kind: str, name: str) -> str:
        """The sentence for a provider name this registry does not have."""
        names = ", ".join(self.names(kind))
        if name == "simulated" and not self.rehearsal:
            return (
                f'provider "simulated" runs only in the demo or a rehearsal (`shipdeck release --rehearse`); '
                f"for production choose one of: {names}"
            )
        return f"unknown {kind} provider {name!r}; choose one of: {names}"


def _discover(package: str) -> list[ProviderSpec]:
    """Every `PROVIDERS` declared in the package's modules.

    A module is imported only if its source declares `PROVIDERS` at the top level, so loading a
    config never imports the clients' helpers (GitPython, datadog-api-client): `status` stays fast.
    """
    module = importlib.import_module(package)
    specs: list[ProviderSpec] = []
    for info in pkgutil.iter_modules(module.__path__):
        if info.name in _NOT_PROVIDER_MODULES or info.name.startswith("_"):
            continue
        source = Path(module.__path__[0]) / f"{info.name}.py"
        try:
            declares = "\nPROVIDERS = " in source.read_text(encoding="utf-8")
        except OSError:
            declares = True  # not a plain source file: ask the module itself
        if declares:
            specs.extend(getattr(importlib.import_module(f"{package}.{info.name}"), "PROVIDERS", ()))
    return specs


def production_registry() -> Registry:
    """Every real provider (and "none"): what `init`, `doctor` and a real release may use."""
    return Registry(_discover("shipdeck.core.providers"))


def rehearsal_registry() -> Registry:
    """The real providers plus the sandbox's simulated ones: for the demo and `--rehearse` only."""
    registry = Registry(_discover("shipdeck.core.providers"), rehearsal=True)
    for spec in _discover("shipdeck.core.sandbox"):
        registry.add(spec)
    return registry


__all__ = [
    "BuildContext",
    "Check",
    "KINDS",
    "MissingSecret",
    "ProviderSpec",
    "Registry",
    "Setting",
    "SettingError",
    "production_registry",
    "rehearsal_registry",
]
