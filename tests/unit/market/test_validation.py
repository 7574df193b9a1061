"""validate_bars: bad bars stop at the door with a message naming symbol, source and row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import ConfigurationError, DataError
from components.market import BAR_COLUMNS, find_bar_problem, validate_bars
from components.market.validation import (
    GapPolicy,
    NaiveTimeWarning,
    find_gaps,
    format_timestamp,
)

from .builders import forex_hours, make_bars

SOURCE = "data/BTC_USDT-1h.feather"


def check(frame: pd.DataFrame, timeframe: str = "1h") -> pd.DataFrame:
    return validate_bars(frame, symbol="BTC/USDT", source=SOURCE, timeframe=timeframe)


def check_with(frame: pd.DataFrame, *, gaps: GapPolicy, timeframe: str = "1h") -> pd.DataFrame:
    return validate_bars(frame, symbol="BTC/USDT", source=SOURCE, timeframe=timeframe, gaps=gaps)


def error_of(frame: pd.DataFrame, timeframe: str = "1h") -> str:
    with pytest.raises(DataError) as info:
        check(frame, timeframe)
    return str(info.value)


def test_high_below_low_raises_data_error_naming_symbol_file_and_row() -> None:
    bars = make_bars(24)
    bars.iloc[17, :4] = [99.5, 99.0, 100.0, 99.5]  # open, high, low, close

    message = error_of(bars)

    assert message == (
        "BTC/USDT in data/BTC_USDT-1h.feather row 17 (2024-01-01 17:00 UTC): high 99.0 < low 100.0"
    )


def test_valid_bars_come_back_in_the_contract_layout() -> None:
    bars = make_bars(10)
    messy = bars[["volume", "close", "low", "high", "open"]].copy()
    messy["volume"] = messy["volume"].round().astype("int64")
    messy["note"] = "x"
    messy.index = messy.index.tz_convert("Europe/Berlin").rename("date")

    result = check(messy)

    assert tuple(result.columns) == BAR_COLUMNS
    assert all(dtype == np.float64 for dtype in result.dtypes)
    assert str(result.index.tz) == "UTC"
    assert result.index.name == "timestamp"
    assert result.index.equals(bars.index)
    np.testing.assert_array_equal(result["close"], bars["close"])


def test_bars_already_in_the_contract_layout_are_returned_as_they_are() -> None:
    bars = make_bars(10)

    assert check(bars) is bars


def test_an_empty_frame_is_valid() -> None:
    assert len(check(make_bars(0))) == 0


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("close", np.nan, "row 5 (2024-01-01 05:00 UTC): close is NaN"),
        ("volume", np.inf, "row 5 (2024-01-01 05:00 UTC): volume is inf"),
        ("low", -1.0, "row 5 (2024-01-01 05:00 UTC): low is -1.0; prices must be > 0"),
        ("open", 0.0, "row 5 (2024-01-01 05:00 UTC): open is 0.0; prices must be > 0"),
        ("volume", -3.0, "row 5 (2024-01-01 05:00 UTC): volume -3.0 < 0"),
    ],
)
def test_bad_values_raise_data_error_naming_the_column_and_row(
    column: str, value: float, expected: str
) -> None:
    bars = make_bars(12)
    bars.loc[bars.index[5], column] = value

    assert error_of(bars) == f"BTC/USDT in {SOURCE} {expected}"


def test_high_below_open_or_close_raises_naming_which() -> None:
    bars = make_bars(12)
    bars.iloc[3, :4] = [101.0, 100.5, 99.0, 100.0]

    assert error_of(bars).endswith("row 3 (2024-01-01 03:00 UTC): high 100.5 < open 101.0")


def test_low_above_open_or_close_raises_naming_which() -> None:
    bars = make_bars(12)
    bars.iloc[3, :4] = [101.0, 102.0, 100.5, 100.0]

    assert error_of(bars).endswith("row 3 (2024-01-01 03:00 UTC): low 100.5 > close 100.0")


def test_missing_columns_raise_naming_them() -> None:
    message = error_of(make_bars(5).drop(columns=["volume", "low"]))

    assert message.startswith(f"BTC/USDT in {SOURCE}: missing column(s) low, volume")


def test_non_numeric_values_raise_naming_the_row() -> None:
    bars = make_bars(6).astype({"close": object})
    bars.iloc[4, 3] = "n/a"

    assert "row 4 (2024-01-01 04:00 UTC): close is 'n/a', not a number" in error_of(bars)


def test_unsorted_timestamps_raise() -> None:
    bars = make_bars(10).iloc[[0, 1, 2, 4, 3, 5]]

    message = error_of(bars)

    assert "row 4 (2024-01-01 03:00 UTC)" in message
    assert "sort the bars by time" in message


def test_duplicate_timestamps_raise() -> None:
    bars = make_bars(10).iloc[[0, 1, 2, 2, 3]]

    assert "row 3 (2024-01-01 02:00 UTC): duplicate timestamp (same as row 2)" in error_of(bars)


def test_missing_bars_raise_counting_them() -> None:
    bars = make_bars(10).drop(make_bars(10).index[4:7])

    assert error_of(bars).endswith(
        "row 4 (2024-01-01 07:00 UTC): gap: 3 missing 1h bars after 2024-01-01 03:00 UTC"
    )


def test_bars_spaced_at_another_timeframe_raise() -> None:
    message = error_of(make_bars(5, timeframe="1h"), timeframe="4h")

    assert "row 1 (2024-01-01 01:00 UTC): bar starts 1h after the previous one" in message


def test_naive_timestamps_are_read_as_utc_with_a_warning() -> None:
    bars = make_bars(5)
    naive = bars.copy()
    naive.index = naive.index.tz_localize(None)

    with pytest.warns(NaiveTimeWarning, match="BTC/USDT in .*: timestamps have no time zone"):
        checked = check(naive)

    pd.testing.assert_frame_equal(checked, bars, check_freq=False)


def test_a_reversed_frame_is_named_as_reversed() -> None:
    message = error_of(make_bars(10).iloc[::-1])

    assert message == (
        f"BTC/USDT in {SOURCE}: the bars are in reverse time order (newest first, from "
        "2024-01-01 09:00 UTC back to 2024-01-01 00:00 UTC); sort the bars by time, "
        "e.g. frame.sort_index()"
    )


def test_gaps_are_allowed_as_they_are_when_asked() -> None:
    bars = forex_hours(weeks=2)

    allowed = check_with(bars, gaps="allow")

    pd.testing.assert_frame_equal(
        allowed, bars, check_freq=False
    )  # nothing invented, nothing dropped


def test_the_gap_report_names_each_weekend() -> None:
    report = find_gaps(forex_hours(weeks=3), "1h")

    assert [(format_timestamp(g.after), g.missing) for g in report.gaps] == [
        ("2024-01-05 21:00 UTC", 50),
        ("2024-01-12 21:00 UTC", 50),
    ]
    assert report.missing == 100
    assert report.describe() == (
        "2 gaps, 100 missing 1h bars (largest 50 after 2024-01-05 21:00 UTC)"
    )


def test_forward_fill_inserts_flat_bars_at_the_previous_close() -> None:
    bars = make_bars(10).drop(make_bars(10).index[4:7])

    filled = check_with(bars, gaps="ffill")

    assert len(filled) == 10
    inserted = filled.iloc[4:7]
    previous_close = bars["close"].iloc[3]
    assert (inserted[["open", "high", "low", "close"]] == previous_close).all().all()
    assert (inserted["volume"] == 0).all()
    pd.testing.assert_frame_equal(filled.loc[bars.index], bars)


def test_an_unknown_gap_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown gap policy 'skip'"):
        check_with(make_bars(3), gaps="skip")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeframe", ["3m", "2h", "6h", "8h", "12h", "3d", "1w", "1M"])
def test_every_exchange_timeframe_validates(timeframe: str) -> None:
    bars = make_bars(30, timeframe=timeframe)

    assert len(check(bars, timeframe)) == 30


def test_monthly_bars_follow_the_calendar_and_report_a_missing_month() -> None:
    bars = make_bars(24, timeframe="1M")
    holed = bars.drop(bars.index[5])

    assert "gap: 1 missing 1M bar after 2024-05-01 00:00 UTC" in error_of(holed, "1M")
    assert find_gaps(holed, "1M").missing == 1
    assert len(check_with(holed, gaps="ffill", timeframe="1M")) == 24


def test_two_bars_in_one_month_are_not_monthly_bars() -> None:
    message = error_of(make_bars(40, timeframe="1d"), "1M")

    assert "row 1 (2024-01-02 00:00 UTC): second bar in the month" in message


def test_an_index_that_is_not_time_raises() -> None:
    assert "not a DatetimeIndex" in error_of(make_bars(5).reset_index())


def test_the_first_bad_row_is_named_when_several_are_bad() -> None:
    bars = make_bars(30)
    bars.iloc[20, 4] = -1.0
    bars.iloc[9, 1] = np.nan
    bars = bars.drop(bars.index[25])

    assert f"{SOURCE} row 9 (2024-01-01 09:00 UTC): high is NaN" in error_of(bars)


def test_nothing_partial_is_returned_and_the_input_is_untouched() -> None:
    bars = make_bars(12)
    bars.iloc[7, 2] = -5.0
    before = bars.copy()

    with pytest.raises(DataError):
        check(bars)

    pd.testing.assert_frame_equal(bars, before)


def test_an_unknown_timeframe_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown timeframe '7h'"):
        check(make_bars(3), timeframe="7h")


def test_find_bar_problem_returns_none_for_good_bars_and_the_problem_for_bad() -> None:
    bars = make_bars(8)
    assert find_bar_problem(bars, timeframe="1h") is None
    bars.iloc[2, 4] = -1.0

    problem = find_bar_problem(bars, timeframe="1h")

    assert problem is not None
    assert (problem.row, problem.message) == (2, "volume -1.0 < 0")


CORRUPTIONS = ["nan", "inf", "zero_price", "high_below_low", "negative_volume", "duplicate"]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 200),
    seed=st.integers(0, 2**16),
    data=st.data(),
    corruption=st.sampled_from(CORRUPTIONS),
)
def test_any_single_corruption_is_caught_at_its_row(
    n: int, seed: int, data: st.DataObject, corruption: str
) -> None:
    bars = make_bars(n, seed=seed)
    row = data.draw(st.integers(1, n - 1))
    values = bars.to_numpy().copy()
    index = bars.index
    if corruption == "nan":
        values[row, data.draw(st.integers(0, 4))] = np.nan
    elif corruption == "inf":
        values[row, data.draw(st.integers(0, 4))] = np.inf
    elif corruption == "zero_price":
        values[row, data.draw(st.integers(0, 3))] = 0.0
    elif corruption == "high_below_low":
        values[row, 1] = values[row, 2] * 0.99
    elif corruption == "negative_volume":
        values[row, 4] = -1.0
    else:
        stamps = index.to_numpy().copy()
        stamps[row] = stamps[row - 1]
        index = pd.DatetimeIndex(stamps, tz="UTC", name="timestamp")
    bad = pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS))

    assert f" row {row} (" in error_of(bad)


def test_500_symbols_of_1000_bars_validate_unchanged() -> None:
    # (the speed is a figure of benchmarks/bench_components.py)
    frames = [make_bars(1000, seed=i) for i in range(500)]

    for frame in frames:
        pd.testing.assert_frame_equal(check(frame), frame, check_freq=False)
