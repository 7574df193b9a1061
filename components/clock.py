"""Clocks: time is always injected, never read from a global.

This is the one module that reads the wall clock. Everything else that needs the time
takes a :class:`Clock` (or a ``now`` argument), so one clock drives a backtest, a replay,
a test or a demo at any speed::

    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(timedelta(hours=1))

Processes pick their clock from the settings with :func:`make_clock`: the wall clock by
default, a fixed time when ``QT_CLOCK`` names one (tests and reproducible runs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from components.errors import ConfigurationError


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` giving a tz-aware UTC datetime."""

    def now(self) -> datetime:
        """The current time, tz-aware UTC."""
        ...


def as_utc(t: datetime, *, name: str = "time") -> datetime:
    """``t`` converted to UTC, e.g. ``as_utc(datetime(2026, 1, 1, tzinfo=UTC))``.

    Raises
    ------
    ConfigurationError
        If ``t`` is not a datetime or has no time zone (a naive time is ambiguous).
    """
    if not isinstance(t, datetime):
        raise ConfigurationError(f"{name} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ConfigurationError(
            f"{name} {t.isoformat()} has no time zone; pass a tz-aware time, "
            "e.g. datetime(2026, 1, 1, tzinfo=UTC)"
        )
    return t.astimezone(UTC)


class SystemClock:
    """The real wall clock, e.g. ``SystemClock().now()``; the default for live exchanges."""

    def now(self) -> datetime:
        """The current wall-clock time in UTC."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to; for tests, backtests and replays.

    Example: ``ManualClock(datetime(2026, 1, 1, tzinfo=UTC)).advance(timedelta(hours=1))``.
    """

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start, name="start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The time it was last set to."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (>= 0) and return the new time.

        Raises
        ------
        ConfigurationError
            If ``delta`` is negative; use :meth:`set` to jump back on purpose.
        """
        if delta < timedelta(0):
            raise ConfigurationError(
                f"cannot advance a clock by a negative {delta}; use set() to go back"
            )
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, t: datetime) -> None:
        """Jump to ``t`` (tz-aware; forwards or backwards)."""
        t = as_utc(t, name="t")
        with self._lock:
            self._now = t

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"


class SimulatedClock:
    """A clock that runs from ``start`` at ``speed`` simulated seconds per real second.

    ``speed=1`` is real time; ``speed=60`` is one simulated minute per real second. The real
    time source is injectable (``monotonic``) so tests need not sleep.

    Example: ``SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), speed=60).now()``.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0 or speed == float("inf"):
            raise ConfigurationError(
                f"speed must be a finite number > 0 (simulated seconds per real second), "
                f"got {speed}"
            )
        self._start = as_utc(start, name="start")
        self._speed = float(speed)
        self._monotonic = monotonic
        self._origin = monotonic()

    @property
    def start(self) -> datetime:
        """The simulated time at construction."""
        return self._start

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        """``start + (real seconds elapsed) * speed``."""
        elapsed = (self._monotonic() - self._origin) * self._speed
        return self._start + timedelta(seconds=elapsed)

    def __repr__(self) -> str:
        return f"SimulatedClock({self._start.isoformat()}, speed={self._speed:g})"


def make_clock(fixed: datetime | None = None) -> Clock:
    """The clock a process runs on: ``SystemClock()``, or a :class:`ManualClock` standing
    at ``fixed`` (the settings' ``QT_CLOCK``), e.g. ``make_clock(settings.clock)``."""
    return SystemClock() if fixed is None else ManualClock(fixed)
