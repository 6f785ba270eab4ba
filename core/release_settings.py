"""The settings a release runs on, journaled when it starts.

A release runs to its end on the settings it started with (watch durations, poll interval,
channels, release window): a resumed run reads them from `state.settings`, never from today's
config. A config changed meanwhile is reported, not silently applied.
"""

from __future__ import annotations

from typing import Any, Mapping

from .config import Config

# Journaled key -> (the config key a person edits, whether the value is a duration in seconds)
SETTING_KEYS: dict[str, tuple[str, bool]] = {
    "deploy_window": ("watch.deploy_window", True),
    "post_release": ("watch.post_release", True),
    "breach_for": ("watch.breach_for", True),
    "blind_after": ("watch.blind_after", True),
    "metrics_interval": ("metrics.interval", True),
    "baseline_window": ("watch.baseline_window", True),
    "announce_channel": ("release.announce_channel", False),
    "success_channel": ("release.success_channel", False),
    "window": ("release.window", False),
}
WINDOW_KEYS = ("days", "start", "end", "timezone", "always")


def settings_from_config(config: Config) -> dict[str, Any]:
    """The settings one release runs on, as plain JSON values (durations in seconds)."""
    window = config.release.window
    return {
        "deploy_window": float(config.watch.deploy_window),
        "post_release": float(config.watch.post_release),
        "breach_for": float(config.watch.breach_for),
        "blind_after": float(config.watch.blind_after),
        "metrics_interval": float(config.metrics_interval),
        "baseline_window": float(config.watch.baseline_window),
        "announce_channel": config.release.announce_channel,
        "success_channel": config.release.success_channel,
        "window": {
            "days": list(window.days),
            "start": window.start,
            "end": window.end,
            "timezone": window.timezone,
            "always": bool(window.always),
        },
    }


def describe_changes(journaled: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One line per setting that differs, such as "watch.deploy_window 30m -> 45m".

    Only settings the release journaled are compared: a journal written before a setting
    was journaled says nothing about it (and `git` is the release's plan, not a setting).
    """
    changes: list[str] = []
    for key, (config_key, is_duration) in SETTING_KEYS.items():
        if key not in journaled or key not in current:
            continue
        if key == "window":
            changes += _window_changes(journaled[key], current[key], config_key)
        elif _differs(journaled[key], current[key], is_duration):
            changes.append(f"{config_key} {_shown(journaled[key], is_duration)} -> {_shown(current[key], is_duration)}")
    return changes


def _window_changes(journaled: Any, current: Any, config_key: str) -> list[str]:
    if not isinstance(journaled, Mapping) or not isinstance(current, Mapping):
        return [] if journaled == current else [f"{config_key} {journaled!r} -> {current!r}"]
    return [
        f"{config_key}.{name} {_shown(journaled.get(name), False)} -> {_shown(current.get(name), False)}"
        for name in WINDOW_KEYS
        if name in journaled and _differs(journaled.get(name), current.get(name), False)
    ]


def _differs(journaled: Any, current: Any, is_duration: bool) -> bool:
    if is_duration:
        try:
            return abs(float(journaled) - float(current)) > 1e-9
        except (TypeError, ValueError):
            return bool(journaled != current)
    if isinstance(journaled, (list, tuple)) and isinstance(current, (list, tuple)):
        return list(journaled) != list(current)
    return bool(journaled != current)


def _shown(value: Any, is_duration: bool) -> str:
    if is_duration and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _duration_text(float(value))
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _duration_text(seconds: float) -> str:
    """As a person writes it in config: 30m, 2h, 1h30m, 45s, 0.25s."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    remaining = int(seconds)
    parts = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
