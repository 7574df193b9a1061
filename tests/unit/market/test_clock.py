"""Clocks: injected time for tests, replays and accelerated demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from components.errors import ConfigurationError
from components.market import Clock, ManualClock, SimulatedClock, SystemClock

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeMonotonic:
    """A real-time source the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1_000.0

    def __call__(self) -> float:
        return self.seconds


def test_manual_clock_stays_put_until_advanced_or_set() -> None:
    clock = ManualClock(START)

    assert clock.now() == START
    assert clock.advance(timedelta(hours=2)) == START + timedelta(hours=2)
    clock.set(START - timedelta(days=1))
    assert clock.now() == START - timedelta(days=1)


def test_manual_clock_gives_utc_even_when_started_in_another_zone() -> None:
    clock = ManualClock(datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=9))))

    assert clock.now() == START
    assert clock.now().tzinfo == UTC


def test_manual_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ConfigurationError, match="no time zone"):
        ManualClock(datetime(2026, 1, 1))


def test_manual_clock_refuses_to_advance_backwards() -> None:
    with pytest.raises(ConfigurationError, match="negative"):
        ManualClock(START).advance(timedelta(seconds=-1))


def test_simulated_clock_at_speed_60_runs_a_minute_per_real_second() -> None:
    real = FakeMonotonic()
    clock = SimulatedClock(START, speed=60, monotonic=real)

    assert clock.now() == START
    real.seconds += 1.5
    assert clock.now() == START + timedelta(seconds=90)


def test_simulated_clock_at_speed_1_is_real_time() -> None:
    real = FakeMonotonic()
    clock = SimulatedClock(START, monotonic=real)
    real.seconds += 10

    assert clock.now() == START + timedelta(seconds=10)


@pytest.mark.parametrize("speed", [0, -1, float("inf"), float("nan")])
def test_simulated_clock_refuses_a_speed_that_is_not_positive_and_finite(speed: float) -> None:
    with pytest.raises(ConfigurationError, match="speed"):
        SimulatedClock(START, speed=speed)


def test_every_clock_keeps_the_clock_protocol_and_gives_utc() -> None:
    for clock in (ManualClock(START), SimulatedClock(START), SystemClock()):
        assert isinstance(clock, Clock)
        assert clock.now().tzinfo == UTC
