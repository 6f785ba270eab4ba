"""shipdeck.toml: load, validate, and write a commented starting point.

Errors name the file, the key and the line, and say what is expected: a captain fixing a
config at 14:05 on a Friday should not have to read a traceback.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .durations import parse_duration
from .toml_lines import KeyLines, key_at
from .model import SeriesSpec

if TYPE_CHECKING:
    from .providers.registry import Registry

DEFAULT_CONFIG_NAME = "shipdeck.toml"


class ConfigError(Exception):
    """A configuration problem, located: `file:line: key: problem`."""

    def __init__(self, path: Path, key: str, problem: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        target = f" [{key}]" if key else ""
        super().__init__(f"{where}:{target} {problem}")
        self.path = path
        self.key = key
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class Window:
    days: tuple[str, ...] = ("fri",)
    start: str = "14:00"
    end: str = "17:00"
    timezone: str = "America/Los_Angeles"
    always: bool = False


@dataclass(frozen=True)
class ApprovalRule:
    roles: tuple[str, ...]
    require: str = "any"  # "any" role suffices, or "all" of them


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "product"
    remote: str = "origin"
    main_branch: str = "main"
    develop_branch: str = "develop"
    compare_url: str = ""
    state_dir: str = ""


@dataclass(frozen=True)
class ReleaseConfig:
    branch_pattern: str = "release/{date}"
    hotfix_branch_pattern: str = "hotfix/{version}"
    tag_pattern: str = "v{version}"
    window: Window = Window()
    approvals: Mapping[str, ApprovalRule] = field(default_factory=dict)
    rollback_roles: tuple[str, ...] = ()
    announce_channel: str = "engineering"
    success_channel: str = "general"


@dataclass(frozen=True)
class WatchConfig:
    deploy_window: float = 1800.0
    post_release: float = 7200.0
    breach_for: float = 120.0
    blind_after: float = 120.0
    baseline_window: float = 3600.0  # the stretch before the deploy a series' baseline is measured over


@dataclass(frozen=True)
class ProviderConfig:
    """A provider name plus its own settings, validated by the provider when it is built."""

    provider: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path
    project: ProjectConfig
    release: ReleaseConfig
    roles: Mapping[str, tuple[str, ...]]
    environments: Mapping[str, Mapping[str, Any]]
    providers: Mapping[str, ProviderConfig]  # by kind: image, deploy, metrics, smoke, notify, ci, flags
    metrics_interval: float
    series: tuple[SeriesSpec, ...]
    series_queries: Mapping[str, Mapping[str, Any]]  # per series: query | queries + formula (the provider reads them)
    smoke_checks: tuple[Mapping[str, Any], ...]
    watch: WatchConfig
    migrations_dirs: tuple[str, ...]
    notes: Mapping[str, Any]
    sandbox: Mapping[str, Any]
    raw: Mapping[str, Any]
    source: str = ""  # the file's text, so later checks can name the line of a key

    def approval_rule(self, release_type: str) -> ApprovalRule:
        return self.release.approvals.get(release_type, ApprovalRule(roles=()))

    def provider(self, kind: str) -> ProviderConfig:
        return self.providers[kind]

    @property
    def image(self) -> ProviderConfig:
        return self.providers["image"]

    @property
    def deploy(self) -> ProviderConfig:
        return self.providers["deploy"]

    @property
    def metrics(self) -> ProviderConfig:
        return self.providers["metrics"]

    @property
    def smoke(self) -> ProviderConfig:
        return self.providers["smoke"]

    @property
    def notify(self) -> ProviderConfig:
        return self.providers["notify"]

    @property
    def rehearsal(self) -> bool:
        """A demo world's config ([sandbox]): simulated providers may run, marked as such."""
        return bool(self.sandbox)

    def error(self, key: str, problem: str) -> ConfigError:
        """A ConfigError for `key`, with its line when the file has it."""
        return ConfigError(self.path, key, problem, KeyLines(self.source).line_of(key) if self.source else None)


KNOWN_KEYS: dict[str, set[str]] = {
    "": {"project", "release", "roles", "image", "deploy", "environments", "metrics", "watch", "smoke", "notify", "ci", "flags", "migrations", "notes", "sandbox", "email"},
    "project": {"name", "remote", "main_branch", "develop_branch", "compare_url", "state_dir"},
    "release": {"branch_pattern", "hotfix_branch_pattern", "tag_pattern", "window", "approvals", "rollback_roles", "announce_channel", "success_channel"},
    "release.window": {"days", "start", "end", "timezone", "always"},
    "watch": {"deploy_window", "post_release", "breach_for", "blind_after", "baseline_window"},
    "migrations": {"directories"},
}

# Keys of a provider table that belong to the section whatever the provider (read elsewhere).
SECTION_SETTINGS: dict[str, set[str]] = {"metrics": {"interval", "series"}, "smoke": {"checks"}, "flags": {"ramp"}}
DEFAULT_PROVIDERS = {"image": "none", "deploy": "none", "metrics": "none", "smoke": "none", "notify": "console", "ci": "none", "flags": "none", "email": "none"}
SERIES_KEYS = {"query", "queries", "formula", "unit", "baseline", "warn_above", "rollback_above", "shadow"}
QUERY_KEYS = ("query", "queries", "formula")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Reader:
    def __init__(self, path: Path, data: Mapping[str, Any], text: str) -> None:
        self.path = path
        self.data = data
        self.locator = KeyLines(text)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.path, key, problem, self.locator.line_of(key))

    def table(self, key: str) -> Mapping[str, Any]:
        node: Any = self.data
        for part in key.split(".") if key else []:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
            if not isinstance(node, Mapping):
                raise self.error(key, f"expected a table, found {type(node).__name__}")
        return node  # type: ignore[no-any-return]  # checked to be a Mapping above

    def check_keys(self, key: str, allowed: set[str], owner: str = "") -> None:
        """Refuse a key of table `key` not in `allowed`; `owner` says whose keys they are."""
        for name in self.table(key):
            if name not in allowed:
                hint = difflib.get_close_matches(name, sorted(allowed), n=1)
                suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(sorted(allowed))}"
                full = f"{key}.{name}" if key else name
                raise self.error(full, f"unknown key '{name}'{owner}{suggestion}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        table_key, _, leaf = key.rpartition(".")
        value = self.table(table_key).get(leaf, default)
        if value is default:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.error(key, f"expected {_article(names)}, found {type(value).__name__} {value!r}")
        return value

    def duration(self, key: str, default: float) -> float:
        table_key, _, leaf = key.rpartition(".")
        value = self.table(table_key).get(leaf)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.error(key, f'expected a duration like "90s", "30m" or "2h", found {type(value).__name__} {value!r}')
        try:
            return parse_duration(value)
        except ValueError as error:
            raise self.error(key, str(error)) from None

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of strings")
        return tuple(value)


def _article(names: str) -> str:
    return f"an {names}" if names[0] in "aeiou" else f"a {names}"


def load_config(path: Path, *, providers: bool = True) -> Config:
    """Read and validate `path`. Raises ConfigError naming file, key and line.

    `providers=False` leaves the provider tables unchecked (their settings as written) and
    imports no provider module: for a view that only attaches to a runner process, which loads
    the config in full itself and reports any error in it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "no such file; run `shipdeck init` to write a commented one") from None
    except OSError as error:
        raise ConfigError(path, "", f"cannot be read: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        line = int(match.group(1)) if match else None
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(path, key_at(text, line), f"not valid TOML: {problem}", line) from None
    return parse_config(path, data, text, providers=providers)


def parse_config(
    path: Path, data: Mapping[str, Any], text: str = "", registry: Registry | None = None, *, providers: bool = True
) -> Config:
    """Validate `data` (read from `path`). Provider tables are checked against `registry`.

    The default registry is the production one; a demo world's config (it has a `[sandbox]`
    table, which `shipdeck init` never writes) is checked against the rehearsal registry, the
    only one that knows simulated providers.
    """
    reader = _Reader(path, data, text)
    for table, allowed in KNOWN_KEYS.items():
        reader.check_keys(table, allowed)
    if not providers:
        chosen = {section: _unchecked_provider(reader, section) for section in DEFAULT_PROVIDERS}
    else:
        if registry is None:
            from .providers.registry import production_registry, rehearsal_registry

            registry = rehearsal_registry() if isinstance(data.get("sandbox"), Mapping) else production_registry()
        chosen = {section: _provider(reader, section, registry) for section in DEFAULT_PROVIDERS}

    project = ProjectConfig(
        name=reader.get("project.name", str, "product"),
        remote=reader.get("project.remote", str, "origin"),
        main_branch=reader.get("project.main_branch", str, "main"),
        develop_branch=reader.get("project.develop_branch", str, "develop"),
        compare_url=reader.get("project.compare_url", str, ""),
        state_dir=reader.get("project.state_dir", str, ""),
    )

    days = reader.strings("release.window.days", ("fri",))
    for day in days:
        if day.lower()[:3] not in DAY_NAMES:
            raise reader.error("release.window.days", f"unknown day {day!r}; use {', '.join(DAY_NAMES)}")
    window = Window(
        days=tuple(d.lower()[:3] for d in days),
        start=_clock(reader, "release.window.start", "14:00"),
        end=_clock(reader, "release.window.end", "17:00"),
        timezone=_timezone(reader, "release.window.timezone", "America/Los_Angeles"),
        always=reader.get("release.window.always", bool, False),
    )
    approvals: dict[str, ApprovalRule] = {}
    for release_type, rule in reader.table("release.approvals").items():
        key = f"release.approvals.{release_type}"
        if release_type not in ("regular", "hotfix", "major"):
            raise reader.error(key, "release types are regular, hotfix and major")
        if not isinstance(rule, Mapping):
            raise reader.error(key, 'expected a table such as { roles = ["engineering-manager"], require = "any" }')
        reader.check_keys(key, {"roles", "require"})
        require = reader.get(f"{key}.require", str, "any")
        if require not in ("any", "all"):
            raise reader.error(f"{key}.require", 'expected "any" or "all"')
        approvals[release_type] = ApprovalRule(roles=reader.strings(f"{key}.roles", ()), require=require)

    roles: dict[str, tuple[str, ...]] = {}
    for role in reader.table("roles"):
        roles[role] = reader.strings(f"roles.{role}", ())
    rollback_roles = reader.strings("release.rollback_roles", ())
    used = [(f"release.approvals.{kind}.roles", r) for kind, rule in approvals.items() for r in rule.roles]
    used += [("release.rollback_roles", r) for r in rollback_roles]
    for key, role in used:
        if roles and role not in roles:
            hint = difflib.get_close_matches(role, sorted(roles), n=1)
            suggestion = f"; did you mean '{hint[0]}'?" if hint else f"; roles defined: {', '.join(sorted(roles))}"
            raise reader.error(key, f"role {role!r} is not defined in [roles]{suggestion}")

    release = ReleaseConfig(
        branch_pattern=reader.get("release.branch_pattern", str, "release/{date}"),
        hotfix_branch_pattern=reader.get("release.hotfix_branch_pattern", str, "hotfix/{version}"),
        tag_pattern=reader.get("release.tag_pattern", str, "v{version}"),
        window=window,
        approvals=approvals,
        rollback_roles=rollback_roles,
        announce_channel=reader.get("release.announce_channel", str, "engineering"),
        success_channel=reader.get("release.success_channel", str, "general"),
    )
    if "{version}" not in release.tag_pattern:
        raise reader.error("release.tag_pattern", "must contain {version}, e.g. \"v{version}\"")

    environments: dict[str, Mapping[str, Any]] = {}
    for name, env in reader.table("environments").items():
        if not isinstance(env, Mapping):
            raise reader.error(f"environments.{name}", "expected a table with url = \"https://…\"")
        environments[name] = dict(env)

    series: list[SeriesSpec] = []
    series_queries: dict[str, dict[str, Any]] = {}
    for name, spec in reader.table("metrics.series").items():
        key = f"metrics.series.{name}"
        if not isinstance(spec, Mapping):
            raise reader.error(key, "expected a table with query, unit and thresholds")
        reader.check_keys(key, SERIES_KEYS)
        query = reader.get(f"{key}.query", str, "")
        formula = reader.get(f"{key}.formula", str, "")
        queries = reader.table(f"{key}.queries")
        for query_name, text_ in queries.items():
            if not isinstance(text_, str):
                raise reader.error(f"{key}.queries.{query_name}", f"expected a query string, found {type(text_).__name__}")
        if query and queries:
            raise reader.error(f"{key}.queries", "give either query = \"…\" or queries = { … } with a formula, not both")
        if queries and not formula:
            raise reader.error(f"{key}.formula", "named queries need a formula, like formula = \"100 * errors / hits\"")
        series_queries[name] = {k: v for k, v in (("query", query), ("queries", dict(queries)), ("formula", formula)) if v}
        series.append(
            SeriesSpec(
                name=name,
                unit=reader.get(f"{key}.unit", str, ""),
                baseline=reader.get(f"{key}.baseline", float, None),
                warn_above=reader.get(f"{key}.warn_above", float, None),
                rollback_above=reader.get(f"{key}.rollback_above", float, None),
                shadow=reader.get(f"{key}.shadow", bool, False),
                query=formula or query,
            )
        )

    watch = WatchConfig(
        deploy_window=reader.duration("watch.deploy_window", 1800.0),
        post_release=reader.duration("watch.post_release", 7200.0),
        breach_for=reader.duration("watch.breach_for", 120.0),
        blind_after=reader.duration("watch.blind_after", 120.0),
        baseline_window=reader.duration("watch.baseline_window", 3600.0),
    )
    metrics_interval = reader.duration("metrics.interval", 10.0)
    if metrics_interval <= 0:
        raise reader.error("metrics.interval", "must be more than zero")
    if watch.blind_after < metrics_interval:
        raise reader.error("watch.blind_after", f"must be at least metrics.interval ({metrics_interval:g}s), or every poll would look blind")

    checks = reader.data.get("smoke", {}).get("checks", []) if isinstance(reader.data.get("smoke"), Mapping) else []
    if not isinstance(checks, list) or not all(isinstance(c, Mapping) for c in checks):
        raise reader.error("smoke.checks", "expected an array of tables ([[smoke.checks]])")
    for index, check in enumerate(checks):
        if not isinstance(check.get("name"), str):
            raise reader.error("smoke.checks", f"check #{index + 1} needs a name = \"…\"")

    return Config(
        path=path,
        project=project,
        release=release,
        roles=roles,
        environments=environments,
        providers=chosen,
        metrics_interval=metrics_interval,
        series=tuple(series),
        series_queries=series_queries,
        smoke_checks=tuple(dict(c) for c in checks),
        watch=watch,
        # Searched besides Alembic's conventional folders and alembic.ini (core/migrations.py).
        migrations_dirs=reader.strings("migrations.directories", ()),
        notes=dict(reader.table("notes")),
        sandbox=dict(reader.table("sandbox")),
        raw=data,
        source=text,
    )


def _provider(reader: _Reader, section: str, registry: Registry) -> ProviderConfig:
    """The `[section]` provider and its validated settings (the registry's schema for it)."""
    from .providers.registry import SettingError

    name = reader.get(f"{section}.provider", str, DEFAULT_PROVIDERS[section])
    spec = registry.get(section, name)
    if spec is None:
        hint = difflib.get_close_matches(name, registry.names(section), n=1)
        problem = registry.unknown(section, name) + (f"; did you mean '{hint[0]}'?" if hint else "")
        raise reader.error(f"{section}.provider", problem)
    shared = SECTION_SETTINGS.get(section, set())
    table = reader.table(section)
    try:
        settings = spec.validate(table, shared)
        if spec.check_section is not None:
            spec.check_section(reader.table(section))
    except SettingError as error:
        raise reader.error(f"{section}.{error.key}", error.problem) from None
    return ProviderConfig(provider=name, settings=settings)


def _unchecked_provider(reader: _Reader, section: str) -> ProviderConfig:
    """The `[section]` provider as written, its settings unchecked (see load_config)."""
    table = reader.table(section)
    return ProviderConfig(provider=str(table.get("provider", DEFAULT_PROVIDERS[section])), settings={k: v for k, v in table.items() if k != "provider"})


def _clock(reader: _Reader, key: str, default: str) -> str:
    value: str = reader.get(key, str, default)
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise reader.error(key, f"expected a 24-hour time like \"14:00\", found {value!r}")
    return value


def _timezone(reader: _Reader, key: str, default: str) -> str:
    value: str = reader.get(key, str, default)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise reader.error(key, f"unknown time zone {value!r}; use an IANA name like \"America/Los_Angeles\"") from None
    return value


def resolve_environment(config: Config, name: str) -> Mapping[str, Any]:
    if config.environments and name not in config.environments:
        known = ", ".join(sorted(config.environments))
        raise ConfigError(config.path, f"environments.{name}", f"no such environment; configured: {known}")
    return config.environments.get(name, {})
