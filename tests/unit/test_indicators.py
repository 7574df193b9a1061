"""The shared indicators against straightforward reference loops and pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components import indicators as ind
from components.errors import ConfigurationError, DataError

# --- builders and reference implementations ---------------------------------------------


def random_ohlc(
    rows: int, length: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random-walk highs, lows and closes, (rows x length)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (rows, length)), axis=1))
    open_ = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.004, (rows, length))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.004, (rows, length))))
    return high, low, close


def ref_wilder(x: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Wilder's average seeded with the mean of x[start : start + n]."""
    out = np.full(len(x), np.nan)
    if start + n > len(x):
        return out
    out[start + n - 1] = x[start : start + n].mean()
    for t in range(start + n, len(x)):
        out[t] = out[t - 1] + (x[t] - out[t - 1]) / n
    return out


def ref_true_range(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    tr = np.empty(len(c))
    tr[0] = h[0] - lo[0]
    for t in range(1, len(c)):
        tr[t] = max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1]))
    return tr


def ref_rsi(c: np.ndarray, n: int) -> np.ndarray:
    gains = [0.0] + [max(c[t] - c[t - 1], 0.0) for t in range(1, len(c))]
    losses = [0.0] + [max(c[t - 1] - c[t], 0.0) for t in range(1, len(c))]
    avg_gain = ref_wilder(np.array(gains), n, start=1)
    avg_loss = ref_wilder(np.array(losses), n, start=1)
    return 100 - 100 / (1 + avg_gain / avg_loss)


def ref_adx(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilder's original bookkeeping with running sums (as TA-Lib does)."""
    length = len(c)
    plus_di = np.full(length, np.nan)
    minus_di = np.full(length, np.nan)
    adx = np.full(length, np.nan)
    tr_sum = pdm_sum = mdm_sum = 0.0
    dxs: list[float] = []
    for t in range(1, length):
        up, down = h[t] - h[t - 1], lo[t - 1] - lo[t]
        pdm = up if up > down and up > 0 else 0.0
        mdm = down if down > up and down > 0 else 0.0
        tr = max(h[t] - lo[t], abs(h[t] - c[t - 1]), abs(lo[t] - c[t - 1]))
        if t <= n:
            tr_sum, pdm_sum, mdm_sum = tr_sum + tr, pdm_sum + pdm, mdm_sum + mdm
        else:
            tr_sum = tr_sum - tr_sum / n + tr
            pdm_sum = pdm_sum - pdm_sum / n + pdm
            mdm_sum = mdm_sum - mdm_sum / n + mdm
        if t >= n:
            plus_di[t] = 100 * pdm_sum / tr_sum
            minus_di[t] = 100 * mdm_sum / tr_sum
            dxs.append(100 * abs(plus_di[t] - minus_di[t]) / (plus_di[t] + minus_di[t]))
            if len(dxs) == n:
                adx[t] = sum(dxs) / n
            elif len(dxs) > n:
                adx[t] = (adx[t - 1] * (n - 1) + dxs[-1]) / n
    return plus_di, minus_di, adx


def ref_efficiency_ratio(c: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(c), np.nan)
    for t in range(n, len(c)):
        path = sum(abs(c[k] - c[k - 1]) for k in range(t - n + 1, t + 1))
        out[t] = abs(c[t] - c[t - n]) / path if path > 0 else 0.0
    return out


finite_series = st.lists(
    st.floats(min_value=1.0, max_value=1e4, allow_nan=False), min_size=1, max_size=80
).map(np.array)


# --- returns ----------------------------------------------------------------------------


def test_returns_and_log_returns_compare_each_price_with_the_one_periods_before() -> None:
    close = np.array([100.0, 110.0, 99.0, 99.0])
    np.testing.assert_allclose(ind.returns(close), [np.nan, 0.1, -0.1, 0.0])
    np.testing.assert_allclose(ind.returns(close, periods=2), [np.nan, np.nan, -0.01, -0.1])
    np.testing.assert_allclose(ind.log_returns(close), np.log([np.nan, 1.1, 0.9, 1.0]))


def test_returns_longer_than_the_series_are_all_nan() -> None:
    assert np.isnan(ind.returns([1.0, 2.0], periods=5)).all()


# --- moving averages --------------------------------------------------------------------------


@given(finite_series, st.integers(min_value=1, max_value=30))
def test_ema_matches_pandas_ewm_without_adjustment(x: np.ndarray, span: int) -> None:
    expected = pd.Series(x).ewm(span=span, adjust=False, min_periods=span).mean().to_numpy()
    np.testing.assert_allclose(ind.ema(x, span), expected, rtol=1e-10, equal_nan=True)


@given(finite_series, st.integers(min_value=1, max_value=30))
def test_sma_matches_pandas_rolling_mean(x: np.ndarray, n: int) -> None:
    expected = pd.Series(x).rolling(n).mean().to_numpy()
    np.testing.assert_allclose(ind.sma(x, n), expected, rtol=1e-9, equal_nan=True)


@given(finite_series, st.integers(min_value=2, max_value=30))
def test_rolling_std_matches_pandas_rolling_std(x: np.ndarray, n: int) -> None:
    expected = pd.Series(x).rolling(n).std().to_numpy()
    spread = float(x.max() - x.min())
    np.testing.assert_allclose(
        ind.rolling_std(x, n), expected, rtol=1e-6, atol=1e-7 * spread + 1e-12, equal_nan=True
    )


def test_rolling_std_of_a_flat_window_is_exactly_0() -> None:
    x = np.array([87.2669764, 3.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(ind.rolling_std(x, 2)[3:], [0.0, 0.0])
    assert ind.rolling_std(x, 3)[-1] == 0.0


@given(finite_series, st.integers(min_value=1, max_value=30))
def test_rma_matches_wilders_reference_loop(x: np.ndarray, n: int) -> None:
    np.testing.assert_allclose(ind.rma(x, n), ref_wilder(x, n), rtol=1e-10, equal_nan=True)


def test_recursive_averages_over_2d_arrays_equal_row_by_row_results() -> None:
    _, _, close = random_ohlc(6, 300, seed=1)
    for func, n in ((ind.ema, 20), (ind.rma, 14), (ind.sma, 10)):
        stacked = func(close, n)
        for row in range(close.shape[0]):
            np.testing.assert_allclose(stacked[row], func(close[row], n), equal_nan=True)


def test_leading_nans_start_each_rows_warm_up_at_its_first_value() -> None:
    x = np.array([[np.nan, np.nan, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    out = ind.rma(x, 2)
    np.testing.assert_allclose(out[0], [np.nan, np.nan, np.nan, 1.5, 2.25, 3.125])
    np.testing.assert_allclose(out[1], ref_wilder(x[1], 2))
    expected = pd.Series(x[0]).ewm(span=2, adjust=False, min_periods=2).mean().to_numpy()
    np.testing.assert_allclose(ind.ema(x, 2)[0], expected, equal_nan=True)


def test_a_nan_inside_a_rolling_window_blanks_that_window_only() -> None:
    x = np.arange(10.0)
    x[4] = np.nan
    out = ind.sma(x, 3)
    assert np.isnan(out[4:7]).all()
    np.testing.assert_allclose(out[7:], [6.0, 7.0, 8.0])


def test_ema_of_500_symbols_by_1000_bars_averages_each_row_on_its_own() -> None:
    # (its speed is a figure of benchmarks/bench_components.py)
    _, _, close = random_ohlc(500, 1000)

    block = ind.ema(close, 20)

    assert block.shape == (500, 1000)
    np.testing.assert_allclose(block[7], ind.ema(close[7], 20))


# --- range, volatility, trend ------------------------------------------------------------------


def test_true_range_and_atr_match_reference_loops() -> None:
    high, low, close = random_ohlc(3, 200, seed=2)
    for row in range(3):
        tr = ref_true_range(high[row], low[row], close[row])
        np.testing.assert_allclose(ind.true_range(high[row], low[row], close[row]), tr)
        np.testing.assert_allclose(
            ind.atr(high, low, close, 14)[row], ref_wilder(tr, 14), rtol=1e-10, equal_nan=True
        )


def test_rsi_matches_wilders_reference_loop() -> None:
    _, _, close = random_ohlc(2, 300, seed=3)
    for row in range(2):
        np.testing.assert_allclose(
            ind.rsi(close[row], 14), ref_rsi(close[row], 14), rtol=1e-9, equal_nan=True
        )
        assert np.isnan(ind.rsi(close[row], 14)[:14]).all()


def test_rsi_is_100_without_losses_and_50_without_any_movement() -> None:
    assert ind.rsi(np.arange(1.0, 40.0), 14)[-1] == 100.0
    assert ind.rsi(np.full(40, 5.0), 14)[-1] == 50.0


def test_directional_movement_matches_wilders_running_sums() -> None:
    high, low, close = random_ohlc(3, 400, seed=4)
    dm = ind.directional_movement(high, low, close, 14)
    for row in range(3):
        plus_di, minus_di, adx = ref_adx(high[row], low[row], close[row], 14)
        np.testing.assert_allclose(dm.plus_di[row], plus_di, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(dm.minus_di[row], minus_di, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(dm.adx[row], adx, rtol=1e-9, equal_nan=True)
    assert np.isnan(dm.adx[:, : 2 * 14 - 1]).all()
    assert np.isfinite(dm.adx[:, 2 * 14 - 1 :]).all()
    np.testing.assert_array_equal(ind.adx(high, low, close, 14), dm.adx)


def test_adx_is_high_for_a_steady_trend_and_low_for_noise() -> None:
    t = np.arange(200.0)
    trend = 100 + t
    rng = np.random.default_rng(5)
    noise = 100 + rng.normal(0, 1, 200)
    assert ind.adx(trend + 0.5, trend - 0.5, trend)[-1] > 90
    assert ind.adx(noise + 0.5, noise - 0.5, noise)[-1] < 40


@given(finite_series, st.integers(min_value=2, max_value=30))
def test_realized_volatility_is_the_rolling_std_of_log_returns(x: np.ndarray, n: int) -> None:
    log_x = np.log(x)
    expected = pd.Series(log_x).diff().rolling(n).std().to_numpy()
    spread = float(log_x.max() - log_x.min())
    np.testing.assert_allclose(
        ind.realized_volatility(x, n),
        expected,
        rtol=1e-6,
        atol=2e-7 * spread + 1e-12,
        equal_nan=True,
    )


@given(finite_series, st.integers(min_value=1, max_value=30))
def test_efficiency_ratio_matches_kaufmans_definition_and_stays_in_0_1(
    x: np.ndarray, n: int
) -> None:
    out = ind.efficiency_ratio(x, n)
    np.testing.assert_allclose(out, ref_efficiency_ratio(x, n), atol=1e-9, equal_nan=True)
    finite = out[np.isfinite(out)]
    assert ((finite >= 0) & (finite <= 1)).all()


def test_efficiency_ratio_is_1_for_a_straight_line_and_0_for_a_flat_one() -> None:
    assert ind.efficiency_ratio(np.linspace(10, 20, 50), 20)[-1] == pytest.approx(1.0)
    assert ind.efficiency_ratio(np.full(50, 3.0), 20)[-1] == 0.0


# --- errors and frames ----------------------------------------------------------------------


def test_a_3d_array_is_refused_naming_its_shape() -> None:
    with pytest.raises(DataError, match=r"\(2, 2, 2\)"):
        ind.sma(np.zeros((2, 2, 2)), 2)


def test_a_period_below_1_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="span must be an integer >= 1"):
        ind.ema([1.0, 2.0], 0)


def test_high_low_close_of_different_shapes_are_refused() -> None:
    with pytest.raises(DataError, match="same shape"):
        ind.atr(np.ones(5), np.ones(5), np.ones(4))


def bars_frame(close: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1.0},
        index=index,
    )


def test_stack_bars_aligns_symbols_of_different_lengths_on_their_last_bars() -> None:
    bars = {"A": bars_frame(np.arange(10.0)), "B": bars_frame(np.arange(100.0, 104.0))}
    stacked = ind.stack_bars(bars, ["B", "A"], length=3, columns=("close", "high"))
    np.testing.assert_array_equal(stacked["close"], [[101, 102, 103], [7, 8, 9]])
    np.testing.assert_array_equal(stacked["high"], [[102, 103, 104], [8, 9, 10]])


def test_stack_bars_names_the_symbol_that_is_too_short_or_lacks_a_column() -> None:
    bars = {"A": bars_frame(np.arange(10.0))}
    with pytest.raises(DataError, match="A have 10 rows, 20 needed"):
        ind.stack_bars(bars, ["A"], length=20)
    with pytest.raises(DataError, match="A have no 'vwap' column"):
        ind.stack_bars(bars, ["A"], length=5, columns=("vwap",))


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_indicators_on_positive_prices_are_finite_after_their_warm_up(seed: int) -> None:
    high, low, close = random_ohlc(2, 60, seed=seed)
    assert np.isfinite(ind.atr(high, low, close, 14)[:, 13:]).all()
    assert np.isfinite(ind.rsi(close, 14)[:, 14:]).all()
    assert np.isfinite(ind.adx(high, low, close, 14)[:, 27:]).all()
    assert math.isfinite(float(ind.realized_volatility(close, 20)[0, -1]))


@pytest.mark.parametrize("length", [1, 5, 300])
def test_sma_windows_equal_sma_for_each_window_to_the_bit(length: int) -> None:
    x = 30_000.0 * np.exp(np.cumsum(np.random.default_rng(length).normal(0, 1e-3, length)))
    gappy = x.copy()
    gappy[length // 2] = np.nan  # not all finite: each window on its own

    for series in (x, gappy, x[np.newaxis, :]):
        means = ind.sma_windows(series, [1, 2, 5, 20, 299, 300, 301])
        for n, mean in means.items():
            np.testing.assert_array_equal(mean, ind.sma(series, n))
