"""The one clock: every "now" in the hub comes from here (DESIGN.md, "One clock").

The wall clock by default. A simulation or a test pins time in two ways, both visible to the code
that asks:

- in this process: `with clock.frozen_at(moment): ...` (or `clock.set(moment)` / `clock.reset()`);
- across processes (Airflow tasks, connectors started by the demo): the environment variable
  `HUB_CLOCK_AT` holds an ISO 8601 time with offset; a child process started with it reads that
  time as "now".

A pinned clock stands still: the simulation moves it forward a step at a time, so two runs of the
same scenario see the same times.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone

from hub.timezone import LOCAL_TZ

ENV_VAR = "HUB_CLOCK_AT"

_pinned: datetime | None = None


class ClockError(ValueError):
    """HUB_CLOCK_AT or a pinned time is not an ISO time with its offset."""


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ClockError(f"the clock needs a time with its offset, got {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


def parse(text: str) -> datetime:
    """An ISO 8601 time with offset (`2026-12-01T07:00:00+08:00`), as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ClockError(f"{ENV_VAR}={text!r} is not an ISO 8601 time: {exc}") from None
    return _aware(moment)


def now() -> datetime:
    """The current time, timezone-aware UTC: pinned in this process, else HUB_CLOCK_AT, else the wall clock."""
    if _pinned is not None:
        return _pinned
    text = os.environ.get(ENV_VAR)
    if text:
        return parse(text)
    return datetime.now(timezone.utc)


def local_now() -> datetime:
    """Now in Shunde (UTC+08:00), for what people see and for local dates."""
    return now().astimezone(LOCAL_TZ)


def local_today() -> date:
    return local_now().date()


def is_pinned() -> bool:
    return _pinned is not None or bool(os.environ.get(ENV_VAR))


def set(moment: datetime) -> None:  # noqa: A001 - the clock's verb
    """Pin this process's clock (and the children it starts, through HUB_CLOCK_AT) at `moment`."""
    global _pinned
    _pinned = _aware(moment)
    os.environ[ENV_VAR] = _pinned.isoformat()


def reset() -> None:
    """Back to the wall clock."""
    global _pinned
    _pinned = None
    os.environ.pop(ENV_VAR, None)


@contextmanager
def frozen_at(moment: datetime) -> Iterator[datetime]:
    """Pin the clock for a block, then put back whatever was there."""
    global _pinned
    saved_pinned, saved_env = _pinned, os.environ.get(ENV_VAR)
    set(moment)
    try:
        yield _pinned
    finally:
        _pinned = saved_pinned
        if saved_env is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = saved_env
