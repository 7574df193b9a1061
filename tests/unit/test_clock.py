"""Clocks: injected time for tests, replays and accelerated demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from components.clock import Clock, ManualClock, SimulatedClock, SystemClock, make_clock
from components.errors import ConfigurationError
from components.settings import Settings, load_settings

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


def test_qt_clock_pins_the_time_of_every_process_reading_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QT_CLOCK", "2026-03-02T01:30:00+01:00")
    clock = make_clock(load_settings().clock)

    assert clock.now() == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert clock.now() == clock.now()  # fixed: the same market at every hour


@pytest.mark.parametrize("value", [None, "system", ""])
def test_without_a_fixed_time_the_clock_is_the_wall_clock(value: str | None) -> None:
    assert isinstance(make_clock(load_settings(clock=value).clock), SystemClock)


@pytest.mark.parametrize(
    ("value", "says"), [("2026-03-02T00:00:00", "has no zone"), ("noon", "ISO 8601")]
)
def test_a_bad_qt_clock_fails_in_one_line_naming_it(value: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(clock=value)

    message = str(caught.value)
    assert message.startswith(f"QT_CLOCK={value!r}") and says in message
    assert "\n" not in message


def test_flows_take_now_from_the_settings_clock(settings: Settings) -> None:
    from tasks.market import read_clock
    from tasks.runtime import runtime

    pinned = settings.model_copy(update={"clock": START})

    assert read_clock.fn(pinned) == START
    assert runtime(pinned).market.now() == START  # the market reads the same clock
