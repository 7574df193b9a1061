"""Metrics on curves whose answers are known by hand."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.backtest.metrics import (
    cagr,
    drawdown,
    drawdown_durations,
    infer_periods_per_year,
    metrics_from_equity,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
    win_rate,
)
from components.errors import ConfigurationError, DataError

START = pd.Timestamp("2024-01-01", tz="UTC")


def hourly(values: list[float] | np.ndarray) -> pd.Series:
    index = pd.date_range(START, periods=len(values), freq="1h", name="timestamp")
    return pd.Series(np.asarray(values, dtype=np.float64), index=index, name="equity")


def test_a_constant_growth_curve_has_no_drawdown_and_its_growth_rate_as_cagr() -> None:
    # 10% a year, compounded every hour for exactly one year of hourly bars
    equity = hourly(100 * 1.1 ** (np.arange(1, 8761) / 8760))

    metrics = metrics_from_equity(equity, initial_equity=100.0)

    assert metrics.max_drawdown == 0
    assert metrics.max_drawdown_bars == 0
    assert metrics.max_drawdown_duration == timedelta(0)
    assert metrics.total_return == pytest.approx(0.1)
    assert metrics.cagr == pytest.approx(0.1)
    assert metrics.sharpe == math.inf
    assert metrics.sortino == math.inf


def test_a_curve_with_a_known_dip_reports_its_depth_and_duration() -> None:
    equity = hourly([100, 120, 90, 100, 125, 125, 110])

    metrics = metrics_from_equity(equity)

    assert metrics.max_drawdown == pytest.approx(0.25)  # 120 -> 90
    assert metrics.max_drawdown_bars == 3  # below 120 from bar 2 until bar 4 regains it
    assert metrics.max_drawdown_duration == timedelta(hours=3)
    assert metrics.total_return == pytest.approx(0.1)
    assert metrics.final_equity == 110


def test_a_drawdown_never_recovered_lasts_until_the_end() -> None:
    equity = hourly([100, 80, 90, 95, 99])

    metrics = metrics_from_equity(equity)

    assert metrics.max_drawdown == pytest.approx(0.2)
    assert metrics.max_drawdown_bars == 4
    assert metrics.max_drawdown_duration == timedelta(hours=4)


def test_the_initial_equity_is_the_first_peak() -> None:
    equity = hourly([90, 95, 100, 101])

    metrics = metrics_from_equity(equity, initial_equity=100.0)

    assert metrics.max_drawdown == pytest.approx(0.1)
    assert metrics.max_drawdown_bars == 3  # from the start until bar 2 is back at 100
    assert metrics.max_drawdown_duration == timedelta(hours=3)
    assert metrics.total_return == pytest.approx(0.01)


def test_sharpe_and_sortino_match_their_formulas() -> None:
    returns = np.array([0.01, -0.02, 0.03, 0.0, -0.01])
    mean = returns.mean()
    std = returns.std(ddof=1)
    downside = math.sqrt(np.mean(np.minimum(returns, 0) ** 2))

    assert sharpe_ratio(returns, 8760) == pytest.approx(mean / std * math.sqrt(8760))
    assert sortino_ratio(returns, 8760) == pytest.approx(mean / downside * math.sqrt(8760))


def test_the_metrics_annualise_the_returns_of_the_curve() -> None:
    equity = hourly([101, 99.99, 102.9897, 102.9897])

    metrics = metrics_from_equity(equity, initial_equity=100.0)

    returns = np.array([0.01, -0.01, 0.03, 0.0])
    assert metrics.sharpe == pytest.approx(sharpe_ratio(returns, 8760))
    assert metrics.volatility == pytest.approx(returns.std(ddof=1) * math.sqrt(8760))


def test_a_flat_curve_scores_zero() -> None:
    metrics = metrics_from_equity(hourly([100.0] * 10))

    assert (metrics.sharpe, metrics.sortino, metrics.cagr, metrics.total_return) == (0, 0, 0, 0)
    assert metrics.max_drawdown == 0


def test_trade_ratios_come_from_the_pnl_column() -> None:
    trades = pd.DataFrame({"pnl": [10.0, -5.0, 3.0, -1.0]})

    metrics = metrics_from_equity(hourly([100, 107]), trades=trades, exposure=0.5)

    assert metrics.n_trades == 4
    assert metrics.win_rate == pytest.approx(0.5)
    assert metrics.profit_factor == pytest.approx(13 / 6)
    assert metrics.exposure == 0.5


def test_without_trades_the_trade_ratios_are_none() -> None:
    metrics = metrics_from_equity(hourly([100, 101]))

    assert (metrics.n_trades, metrics.win_rate, metrics.profit_factor) == (0, None, None)
    assert metrics.exposure is None


def test_profit_factor_and_win_rate_edge_cases() -> None:
    assert profit_factor([5.0, 2.0]) == math.inf
    assert profit_factor([0.0]) is None
    assert profit_factor([]) is None
    assert win_rate([]) is None
    assert win_rate([1.0, 0.0]) == 0.5


def test_cagr_over_two_years_and_a_wiped_out_account() -> None:
    assert cagr(100.0, 121.0, 2.0) == pytest.approx(0.1)
    assert cagr(100.0, 0.0, 1.0) == -1.0
    assert cagr(100.0, 150.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("freq", "expected"), [("1min", 525_600.0), ("1h", 8_760.0), ("4h", 2_190.0), ("1D", 365.0)]
)
def test_the_bar_frequency_sets_the_periods_per_year(freq: str, expected: float) -> None:
    index = pd.date_range(START, periods=10, freq=freq)

    assert infer_periods_per_year(index) == pytest.approx(expected)


def test_a_series_without_a_time_index_needs_periods_per_year() -> None:
    equity = pd.Series([100.0, 101.0, 99.0])

    with pytest.raises(DataError, match="periods_per_year"):
        metrics_from_equity(equity)
    metrics = metrics_from_equity(equity, periods_per_year=252)
    assert metrics.max_drawdown_duration is None
    assert metrics.periods_per_year == 252


def test_bad_input_is_rejected() -> None:
    with pytest.raises(DataError, match="empty"):
        metrics_from_equity(hourly([]))
    with pytest.raises(DataError, match="row 1"):
        metrics_from_equity(hourly([100.0, np.nan]))
    with pytest.raises(ConfigurationError, match="exposure"):
        metrics_from_equity(hourly([100.0, 101.0]), exposure=1.5)


def test_drawdown_durations_count_bars_since_the_peak() -> None:
    assert list(drawdown_durations([1.0, 0.5, 0.7, 1.2, 1.1])) == [0, 1, 2, 0, 1]


def test_a_wiped_out_account_is_in_full_drawdown() -> None:
    assert list(drawdown([100.0, 50.0, 0.0])) == [0.0, 0.5, 1.0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.just(0.0) | st.floats(1e-6, 1e9), min_size=1, max_size=200))
def test_drawdown_lies_in_0_1_for_any_curve(values: list[float]) -> None:
    dd = drawdown(values)

    assert ((dd >= 0) & (dd <= 1)).all()
    if values[0] > 0:
        metrics = metrics_from_equity(hourly(values), periods_per_year=8760)
        assert 0 <= metrics.max_drawdown <= 1


def test_metrics_serialise_infinite_ratios_to_json() -> None:
    metrics = metrics_from_equity(
        hourly([100.0, 101.0, 102.0]), trades=pd.DataFrame({"pnl": [2.0]})
    )

    assert '"profit_factor":"Infinity"' in metrics.model_dump_json()
