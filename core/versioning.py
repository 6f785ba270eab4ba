"""Semantic versions: parse, order, bump, and map to and from release tags."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = [
    "RELEASE_TYPES",
    "Version",
    "bump",
    "parse_version",
    "tag_regex",
    "tag_to_version",
    "version_to_tag",
]

RELEASE_TYPES = ("regular", "hotfix", "major")

_VERSION_RE = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_BARE_VERSION = re.compile(rf"^v?{_VERSION_RE}$")


@functools.total_ordering
@dataclass(frozen=True, eq=True)
class Version:
    """A semantic version; ordered by semver precedence (1.4.0-rc.1 < 1.4.0 < 1.10.0)."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _precedence(self) -> tuple[object, ...]:
        # A release sorts after all of its pre-releases, hence the (1,) sentinel; numeric
        # identifiers sort below alphanumeric ones, as semver section 11 prescribes.
        if not self.prerelease:
            return (self.major, self.minor, self.patch, (1,))
        identifiers = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in self.prerelease.split(".")
        )
        return (self.major, self.minor, self.patch, (0, identifiers))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence() < other._precedence()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core


def _from_match(match: re.Match[str]) -> Version:
    return Version(
        int(match["major"]), int(match["minor"]), int(match["patch"]), match["prerelease"] or ""
    )


def parse_version(text: str) -> Version:
    """Parse ``1.4.0``, ``v1.4.0`` or ``1.4.0-rc.1``.

    Raises:
        ValueError: naming the text when it is not a semantic version.
    """
    match = _BARE_VERSION.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a semantic version; expected MAJOR.MINOR.PATCH such as 1.4.0"
        )
    return _from_match(match)


def bump(previous: Version, release_type: str) -> Version:
    """Next release version: regular → minor, hotfix → patch, major → major."""
    if release_type == "regular":
        return Version(previous.major, previous.minor + 1, 0)
    if release_type == "hotfix":
        return Version(previous.major, previous.minor, previous.patch + 1)
    if release_type == "major":
        return Version(previous.major + 1, 0, 0)
    raise ValueError(
        f"unknown release type {release_type!r}; expected one of {', '.join(RELEASE_TYPES)}"
    )


@functools.lru_cache(maxsize=32)
def tag_regex(tag_pattern: str = "v{version}") -> re.Pattern[str]:
    """A compiled regex matching tags of ``tag_pattern`` (which must contain ``{version}``)."""
    if tag_pattern.count("{version}") != 1:
        raise ValueError(
            f"tag pattern {tag_pattern!r} must contain {{version}} exactly once, e.g. 'v{{version}}'"
        )
    prefix, suffix = tag_pattern.split("{version}")
    return re.compile(f"^{re.escape(prefix)}{_VERSION_RE}{re.escape(suffix)}$")


def tag_to_version(tag: str, tag_pattern: str = "v{version}") -> Version | None:
    """The version a tag names under ``tag_pattern``, or None when the tag does not match."""
    match = tag_regex(tag_pattern).match(tag)
    if match is None:
        return None
    return _from_match(match)


def version_to_tag(version: Version | str, tag_pattern: str = "v{version}") -> str:
    """The tag for ``version`` under ``tag_pattern`` (``1.4.0`` → ``v1.4.0``)."""
    tag_regex(tag_pattern)  # validates the pattern
    text = str(version) if isinstance(version, Version) else str(parse_version(version))
    return tag_pattern.replace("{version}", text)
