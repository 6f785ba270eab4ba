"""The release window: is now inside it, and when does it open next."""

from __future__ import annotations

from datetime import datetime, timedelta

from .config import Window
from .durations import format_duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def describe_window(window: Window) -> str:
    if window.always:
        return "any time"
    days = ", ".join(d.capitalize() for d in window.days)
    return f"{days} {window.start}–{window.end} {window.timezone}"


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def window_status(window: Window, now: datetime) -> tuple[bool, str]:
    """(inside, a sentence saying so). `now` must be aware, in the window's zone."""
    if window.always:
        return True, "no release window configured (any time)"
    start, end = _minutes(window.start), _minutes(window.end)
    minute = now.hour * 60 + now.minute
    if DAYS[now.weekday()] in window.days and start <= minute < end:
        return True, f"inside the release window ({describe_window(window)})"
    opens = next_opening(window, now)
    wait = format_duration((opens - now).total_seconds()) if opens else "never"
    return False, f"outside the release window ({describe_window(window)}); it opens in {wait}"


def next_opening(window: Window, now: datetime) -> datetime | None:
    start = _minutes(window.start)
    for offset in range(0, 8):
        day = now + timedelta(days=offset)
        candidate = day.replace(hour=start // 60, minute=start % 60, second=0, microsecond=0)
        if DAYS[candidate.weekday()] in window.days and candidate > now:
            return candidate
    return None
