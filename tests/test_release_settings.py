"""The settings a release journals when it starts, and how a changed config is described."""

from __future__ import annotations

from pathlib import Path

from shipdeck.core.config import parse_config
from shipdeck.core.release_settings import describe_changes, settings_from_config

BASE = {
    "watch": {"deploy_window": "30m", "post_release": "2h", "breach_for": "2m", "blind_after": "90s"},
    "metrics": {"interval": "10s"},
    "release": {"announce_channel": "eng", "success_channel": "general", "window": {"days": ["fri"], "start": "14:00"}},
}


def _settings(data: dict) -> dict:
    return settings_from_config(parse_config(Path("shipdeck.toml"), data))


def test_settings_are_plain_seconds_channels_and_the_window() -> None:
    settings = _settings(BASE)
    assert settings == {
        "deploy_window": 1800.0,
        "post_release": 7200.0,
        "breach_for": 120.0,
        "blind_after": 90.0,
        "metrics_interval": 10.0,
        "baseline_window": 3600.0,
        "announce_channel": "eng",
        "success_channel": "general",
        "window": {"days": ["fri"], "start": "14:00", "end": "17:00", "timezone": "America/Los_Angeles", "always": False},
    }


def test_an_unchanged_config_has_no_changes() -> None:
    assert describe_changes(_settings(BASE), _settings(BASE)) == []


def test_every_changed_setting_is_one_line_in_config_words() -> None:
    changed = {
        "watch": {"deploy_window": "45m", "post_release": "2h", "breach_for": "2m", "blind_after": "90s"},
        "metrics": {"interval": "0.5s"},
        "release": {"announce_channel": "releases", "success_channel": "general",
                    "window": {"days": ["thu", "fri"], "start": "14:00", "always": True}},
    }
    assert describe_changes(_settings(BASE), _settings(changed)) == [
        "watch.deploy_window 30m -> 45m",
        "metrics.interval 10s -> 0.5s",
        "release.announce_channel eng -> releases",
        "release.window.days fri -> thu,fri",
        "release.window.always false -> true",
    ]


def test_a_journal_without_a_setting_says_nothing_about_it() -> None:
    journaled = {"git": {"tag": "v1.4.0"}, "deploy_window": 1800.0}
    current = _settings({**BASE, "watch": {"deploy_window": "30m", "post_release": "4h"}})
    assert describe_changes(journaled, current) == []
    assert describe_changes({"deploy_window": 1800.0}, _settings({"watch": {"deploy_window": "1h30m"}})) == [
        "watch.deploy_window 30m -> 1h30m"
    ]
