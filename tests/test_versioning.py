"""Semantic versions: parsing, precedence, bumping and tag patterns."""

from __future__ import annotations

import pytest

from shipdeck.core.versioning import (
    Version,
    bump,
    parse_version,
    tag_to_version,
    version_to_tag,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.4.0", Version(1, 4, 0)),
        ("v1.4.0", Version(1, 4, 0)),
        (" 10.20.30 ", Version(10, 20, 30)),
        ("1.4.0-rc.1", Version(1, 4, 0, "rc.1")),
        ("1.4.0+build.7", Version(1, 4, 0)),
    ],
)
def test_parse_version_accepts_semver(text: str, expected: Version) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "1.4", "1.4.0.1", "01.4.0", "latest", "v", "1.4.x"])
def test_parse_version_rejects_non_semver_with_the_text_in_the_message(text: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        parse_version(text)


def test_versions_order_numerically_not_lexically() -> None:
    texts = ["1.10.0", "1.9.0", "1.2.0", "2.0.0", "1.10.0-rc.2", "1.10.0-rc.10", "1.10.0-beta"]
    ordered = [str(v) for v in sorted(parse_version(t) for t in texts)]
    assert ordered == [
        "1.2.0", "1.9.0", "1.10.0-beta", "1.10.0-rc.2", "1.10.0-rc.10", "1.10.0", "2.0.0",
    ]
    assert parse_version("1.10.0") > parse_version("1.9.0")


@pytest.mark.parametrize(
    ("release_type", "expected"),
    [("regular", "1.4.0"), ("hotfix", "1.3.3"), ("major", "2.0.0")],
)
def test_bump_by_release_type(release_type: str, expected: str) -> None:
    assert str(bump(Version(1, 3, 2), release_type)) == expected


def test_bump_rejects_an_unknown_release_type() -> None:
    with pytest.raises(ValueError, match="regular, hotfix, major"):
        bump(Version(1, 3, 2), "weekly")


@pytest.mark.parametrize(
    ("tag", "pattern", "expected"),
    [
        ("v1.4.0", "v{version}", Version(1, 4, 0)),
        ("1.4.0", "v{version}", None),
        ("release-1.4.0", "release-{version}", Version(1, 4, 0)),
        ("web/v2.0.0-rc.1", "web/v{version}", Version(2, 0, 0, "rc.1")),
        ("v1.4.0x", "v{version}", None),
        ("vnext", "v{version}", None),
    ],
)
def test_tag_to_version(tag: str, pattern: str, expected: Version | None) -> None:
    assert tag_to_version(tag, pattern) == expected


def test_version_to_tag_round_trips() -> None:
    assert version_to_tag(Version(1, 4, 0)) == "v1.4.0"
    assert version_to_tag("1.4.0", "release-{version}") == "release-1.4.0"
    assert tag_to_version(version_to_tag("3.1.4-rc.1")) == Version(3, 1, 4, "rc.1")


def test_tag_pattern_without_placeholder_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"\{version\}"):
        version_to_tag("1.0.0", "release")
