"""The pure arithmetic: drawdown, Sharpe from daily PnL, the zero-filled daily series."""

from __future__ import annotations

import math
import statistics
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.analytics import (
    daily_pnl_series,
    drawdown_series,
    max_drawdown,
    sharpe_ratio,
    window_drawdown,
)
from components.errors import DataError

equities = st.lists(st.floats(1.0, 1e7, allow_nan=False), min_size=1, max_size=60)


def test_drawdown_is_the_fall_below_the_running_peak() -> None:
    equity = pd.Series([100.0, 120.0, 90.0, 130.0, 117.0])

    assert drawdown_series(equity).tolist() == pytest.approx([0.0, 0.0, -0.25, 0.0, -0.1])
    assert max_drawdown(equity) == pytest.approx(0.25)
    assert max_drawdown(pd.Series([], dtype=float)) == 0.0


@given(equities)
def test_drawdown_lies_between_minus_one_and_zero(values: list[float]) -> None:
    series = drawdown_series(pd.Series(values))

    assert ((series >= -1.0) & (series <= 0.0)).all()
    assert 0.0 <= max_drawdown(pd.Series(values)) <= 1.0


def test_drawdown_of_a_curve_with_nan_names_the_point() -> None:
    with pytest.raises(DataError, match="at 2"):
        drawdown_series(pd.Series([1.0, 2.0, math.nan]))


def test_window_drawdown_counts_the_start_as_a_peak() -> None:
    assert window_drawdown(1_000.0, [-100.0, 50.0]) == pytest.approx(0.1)
    assert window_drawdown(1_000.0, [100.0, -220.0]) == pytest.approx(0.2)
    assert window_drawdown(1_000.0, []) == 0.0


def test_daily_series_fills_the_days_without_fills_with_zero() -> None:
    series = daily_pnl_series({date(2026, 1, 3): -2.0, date(2026, 1, 1): 5.0})

    assert series.tolist() == [5.0, 0.0, -2.0]
    assert list(series.index) == [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]


def test_sharpe_is_the_annualised_mean_over_the_sample_deviation() -> None:
    daily = [10.0, -5.0, 8.0, 0.0]

    expected = statistics.mean(daily) / statistics.stdev(daily) * math.sqrt(365)
    assert sharpe_ratio(daily) == pytest.approx(expected)
    assert sharpe_ratio(daily, periods_per_year=252) == pytest.approx(
        expected * math.sqrt(252 / 365)
    )


@pytest.mark.parametrize("daily", [[], [5.0], [3.0, 3.0, 3.0]])
def test_sharpe_is_undefined_without_two_days_or_any_variation(daily: list[float]) -> None:
    assert sharpe_ratio(daily) is None


@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=2, max_size=30),
    st.floats(0.01, 100.0),
)
def test_sharpe_does_not_depend_on_the_size_of_the_account(
    daily: list[float], scale: float
) -> None:
    plain, scaled = sharpe_ratio(daily), sharpe_ratio(np.asarray(daily) * scale)

    if plain is None or scaled is None:
        return  # no variation (within rounding) at one of the scales
    assert scaled == pytest.approx(plain, rel=1e-6, abs=1e-9)
