"""Secrets read from the environment, in a type that never shows its value.

A `Secret` prints, reprs, formats and pickles as `Secret(NAME=***)`; only `reveal()` gives
the value, at the moment a client needs it. Keep revealed values out of locals that a
traceback (or Textual's crash screen) would show: reveal inside the call that sends them.
"""

from __future__ import annotations

import os
from typing import Mapping


class MissingSecret(Exception):
    """A secret's environment variable is not set; the message names the variable, never a value."""


class Secret:
    __slots__ = ("_name", "_value")

    def __init__(self, name: str, value: str) -> None:
        self._name = name
        self._value = value

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> Secret:
        """The secret held by environment variable `name`. Raises MissingSecret when unset or empty."""
        value = (environ if environ is not None else os.environ).get(name, "")
        if not value:
            raise MissingSecret(f"environment variable {name} is not set (it holds a secret; shipdeck never reads it from a file)")
        return cls(name, value)

    @property
    def name(self) -> str:
        """The environment variable's name: safe to show."""
        return self._name

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._name}=***)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret is never pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._name == self._name and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._name)


def mask(text: str, secrets: list[Secret] | tuple[Secret, ...]) -> str:
    """`text` with every secret's value replaced by `***` (for errors that echo a request)."""
    for secret in secrets:
        value = secret.reveal()
        if value:
            text = text.replace(value, "***")
    return text
