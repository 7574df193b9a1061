"""The one indicator implementation every part of Quantum Trader uses.

Every function is vectorised and numpy-first: it takes 1-D arrays (one series) or 2-D
arrays (symbols x time, computed along the last axis) and returns an array of the same
shape, ``float64``, with ``NaN`` during the warm-up::

    atr14 = atr(high, low, close)            # (500, 1000) in, (500, 1000) out
    rsi14 = rsi(close[0])                    # one series

Recursive averages (:func:`ema`, :func:`rma`) run through ``scipy.signal.lfilter``, one
call per distinct warm-up offset, so a 500 x 1000 array takes about a millisecond.

NaN handling: leading NaNs of a row are skipped (the row's warm-up starts at its first
finite value). A NaN *after* that start propagates through recursive averages (EMA, RMA,
ATR, RSI, ADX) to the end of the row, and through rolling windows (:func:`sma`,
:func:`rolling_std`, :func:`efficiency_ratio`) for one window length. Clean bars first
(the market sources guarantee finite OHLCV).

:func:`stack_bars` is the bridge from bar DataFrames (the market contract in
:mod:`components.market.base`) to these arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

from components.errors import ConfigurationError, DataError
from components.stream import bar_index, carried, streaming

FloatArray: TypeAlias = npt.NDArray[np.float64]

__all__ = [
    "DirectionalMovement",
    "FloatArray",
    "adx",
    "atr",
    "directional_movement",
    "efficiency_ratio",
    "ema",
    "forward_fill",
    "lag",
    "log_returns",
    "realized_volatility",
    "returns",
    "rma",
    "rolling_max",
    "rolling_min",
    "rolling_std",
    "rsi",
    "running_any",
    "sma",
    "sma_windows",
    "stack_bars",
    "true_range",
]


# --- shape and argument helpers ---------------------------------------------------------


def _as_2d(x: npt.ArrayLike, name: str) -> tuple[FloatArray, bool]:
    """``x`` as a float64 (rows, time) array, and whether it was 1-D."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[np.newaxis, :], True
    if arr.ndim == 2:
        return arr, False
    raise DataError(f"{name} must be 1-D (time) or 2-D (symbols x time), got shape {arr.shape}")


def _restore(out: FloatArray, was_1d: bool) -> FloatArray:
    return out[0] if was_1d else out


def _check_period(n: int, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigurationError(f"{name} must be an integer >= 1, got {n!r}")


def _same_shape(**arrays: FloatArray) -> None:
    shapes = {name: a.shape for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        detail = ", ".join(f"{name}{shape}" for name, shape in shapes.items())
        raise DataError(f"arrays must have the same shape: {detail}")


def _first_finite(x: FloatArray) -> npt.NDArray[np.intp]:
    """Index of each row's first finite value; the row length when there is none."""
    finite = np.isfinite(x)
    first = np.argmax(finite, axis=1)
    return np.where(finite.any(axis=1), first, x.shape[1])


def _shifted_diff(x: FloatArray, periods: int) -> FloatArray:
    """``x[t] - x[t - periods]`` with NaN for the first ``periods`` columns."""
    return x - lag(x, periods)


# --- the carrying building blocks (see components.stream) ---------------------------------


def lag(x: npt.NDArray[Any], periods: int = 1, *, fill: Any = np.nan) -> npt.NDArray[Any]:
    """``x`` moved ``periods`` bars later along the last axis: ``out[..., t] = x[..., t -
    periods]``, ``fill`` for the first ``periods`` bars. 2-D (symbols x time).

    Example: ``lag(np.array([[1.0, 2.0, 3.0]]))`` -> ``[[nan, 1.0, 2.0]]``.
    """
    rows, length = x.shape
    state = carried("lag")
    tail = state.get("tail") if state else None
    if tail is None:
        tail = np.full((rows, periods), fill, dtype=x.dtype)
    joined = np.concatenate([tail, x], axis=1)
    if state is not None:
        state["tail"] = joined[:, joined.shape[1] - periods :].copy()
    return joined[:, :length]


def _with_past(x: FloatArray, count: int) -> tuple[FloatArray, int]:
    """``x`` preceded by up to ``count`` earlier values of the series (none outside a
    stream, or at its start), and how many there are."""
    state = carried("past")
    if state is None:
        return x, 0
    past = state.get("past")
    joined = x if past is None else np.concatenate([past, x], axis=-1)
    state["past"] = joined[..., max(joined.shape[-1] - count, 0) :].copy()
    return joined, 0 if past is None else past.shape[-1]


def _running_sum(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Cumulative sums along the last axis, continuing the last chunk's total in a stream
    (the same additions, in the same order, as one ``cumsum`` over the whole series)."""
    state = carried("running_sum")
    total = state.get("total") if state else None
    if total is None:
        sums = np.cumsum(x, axis=1)
    else:
        sums = np.cumsum(np.concatenate([total, x], axis=1), axis=1)[:, 1:]
    if state is not None and x.shape[1]:
        state["total"] = sums[:, -1:].copy()
    return sums


def forward_fill(
    values: npt.NDArray[Any], valid: npt.NDArray[np.bool_], initial: Any
) -> npt.NDArray[Any]:
    """At each bar, ``values`` at the last bar (this one included) where ``valid`` holds;
    ``initial`` before the first such bar. 2-D (symbols x time), along time.

    Example: ``forward_fill(np.array([[1, 2, 3]]), np.array([[0, 1, 0]], bool), 0)``
    -> ``[[0, 2, 2]]``.
    """
    rows, length = values.shape
    state = carried("forward_fill")
    start = state.get("last") if state else None
    if start is None:
        start = np.full((rows, 1), initial, dtype=values.dtype)
    joined = np.concatenate([start, values], axis=1)
    marks = np.concatenate([np.ones((rows, 1), dtype=np.bool_), valid], axis=1)
    last = np.maximum.accumulate(np.where(marks, np.arange(length + 1), 0), axis=1)
    out = np.take_along_axis(joined, last, axis=1)[:, 1:]
    if state is not None:
        state["last"] = np.take_along_axis(joined, last[:, -1:], axis=1).copy()
    return out


def running_any(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Whether ``mask`` held at this bar or any before it, along time. 2-D.

    Example: ``running_any(np.array([[0, 1, 0]], bool))`` -> ``[[False, True, True]]``.
    """
    state = carried("running_any")
    out = np.logical_or.accumulate(mask, axis=-1)
    seen = state.get("seen") if state else None
    if seen is not None:
        out = out | seen
    if state is not None and mask.shape[-1]:
        state["seen"] = out[:, -1:].copy()
    return out


def _first_finite_values(x: FloatArray) -> FloatArray:
    """Each row's first finite value in the whole series (0 while there is none)."""
    state = carried("first_finite")
    known = state.get("known") if state else None
    values = state.get("values") if state else None
    if known is None or values is None:
        known = np.zeros(x.shape[0], dtype=np.bool_)
        values = np.zeros(x.shape[0])
    first = _first_finite(x)
    found = ~known & (first < x.shape[1])
    if found.any():
        values = values.copy()
        rows = np.flatnonzero(found)
        values[rows] = x[rows, first[rows]]
        known = known | found
    if state is not None:
        state["known"], state["values"] = known, values
    return values


# --- returns ------------------------------------------------------------------------------


def returns(close: npt.ArrayLike, periods: int = 1) -> FloatArray:
    """Simple returns ``close[t] / close[t - periods] - 1``.

    Parameters
    ----------
    close
        Prices, 1-D or 2-D (symbols x time).
    periods
        Bars between the two prices.

    Returns
    -------
    numpy.ndarray
        Same shape as ``close``; the first ``periods`` values are NaN.
    """
    _check_period(periods, "periods")
    c, was_1d = _as_2d(close, "close")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = c / lag(c, periods) - 1.0
    return _restore(out, was_1d)


def log_returns(close: npt.ArrayLike, periods: int = 1) -> FloatArray:
    """Log returns ``log(close[t] / close[t - periods])``; NaN for the first ``periods``.

    Example: ``log_returns([100.0, 110.0])`` -> ``[nan, 0.0953...]``.
    """
    _check_period(periods, "periods")
    c, was_1d = _as_2d(close, "close")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(c / lag(c, periods))
    return _restore(out, was_1d)


# --- rolling windows --------------------------------------------------------------------------


def _window_sums(values: FloatArray, n: int) -> FloatArray:
    """Sums of the last ``n`` values at each column (NaN for the first ``n - 1``), from
    running sums: ``c[t] - c[t - n]``."""
    sums = _running_sum(values)
    if not streaming():  # the whole series at hand: the same subtractions, in place
        length = values.shape[1]
        if length >= n:
            sums[:, n:] -= sums[:, : length - n].copy()
        sums[:, : min(n - 1, length)] = np.nan
        return sums
    index = bar_index(values.shape[1])
    return np.where(index == n - 1, sums, sums - lag(sums, n))


def _rolling_sums(
    x: FloatArray, n: int, *, squares: bool = False, centre: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rolling sums of ``x - offset`` and of its squares over ``n`` columns, NaN where the
    window is not full of finite values, and the per-row ``offset`` (the row's first
    finite value, or 0 without ``centre``). Centring keeps the cumulative sums precise
    on large prices, and the variance does not depend on it. Without ``squares`` the
    second array is empty."""
    finite = np.isfinite(x)
    offset = _first_finite_values(x) if centre else np.zeros(x.shape[0])
    centred = np.where(finite, x - offset[:, np.newaxis], 0.0)
    invalid = None
    if streaming() or not finite.all():  # else no window holds a missing value
        invalid = _window_sums((~finite).astype(np.float64), n) != 0  # NaN (warm-up) too
    sums = _window_sums(centred, n)
    if invalid is not None:
        sums[invalid] = np.nan
    sums_sq = np.empty((0, 0))
    if squares:
        sums_sq = _window_sums(centred * centred, n)
        if invalid is not None:
            sums_sq[invalid] = np.nan
    return sums, sums_sq, offset


def sma(x: npt.ArrayLike, n: int) -> FloatArray:
    """Simple moving average over ``n`` values; the first ``n - 1`` are NaN.

    Example: ``sma([1.0, 2.0, 3.0], 2)`` -> ``[nan, 1.5, 2.5]``.
    """
    _check_period(n, "n")
    a, was_1d = _as_2d(x, "x")
    sums, _, offset = _rolling_sums(a, n)
    return _restore(sums / n + offset[:, np.newaxis], was_1d)


def sma_windows(x: npt.ArrayLike, windows: Sequence[int]) -> dict[int, FloatArray]:
    """:func:`sma` of ``x`` over each of ``windows``, each equal to ``sma(x, n)`` (the same
    float operations), sharing one running sum when every value is finite (a parameter
    grid's many windows over one series).

    Example: ``sma_windows([1.0, 2.0, 3.0], [2, 3])[2]`` -> ``[nan, 1.5, 2.5]``.
    """
    for n in windows:
        _check_period(n, "n")
    a, was_1d = _as_2d(x, "x")
    if streaming() or not np.isfinite(a).all():
        return {n: sma(x, n) for n in windows}
    offset = _first_finite_values(a)[:, np.newaxis]
    sums = np.cumsum(a - offset, axis=1)  # as _rolling_sums: x - offset where all finite
    length = a.shape[1]
    out: dict[int, FloatArray] = {}
    for n in windows:
        mean = np.empty_like(sums)
        if length >= n:
            np.subtract(sums[:, n:], sums[:, : length - n], out=mean[:, n:])
            mean[:, n - 1] = sums[:, n - 1]
        mean[:, : min(n - 1, length)] = np.nan
        mean /= n
        mean += offset
        out[n] = _restore(mean, was_1d)
    return out


def rolling_std(x: npt.ArrayLike, n: int, *, ddof: int = 1) -> FloatArray:
    """Rolling standard deviation over ``n`` values (``ddof=1``: the sample estimate, as
    ``pandas.Series.rolling(n).std()``); the first ``n - 1`` values are NaN.

    Computed from running sums in O(length): a window of identical values gives exactly
    0, any other is accurate to about ``1e-7`` times the spread of the row's values.
    """
    _check_period(n, "n")
    if ddof < 0 or ddof >= n:
        raise ConfigurationError(f"ddof must be in [0, n), got ddof={ddof} with n={n}")
    a, was_1d = _as_2d(x, "x")
    s1, s2, _ = _rolling_sums(a, n, squares=True)
    std = np.sqrt(np.maximum((s2 - s1 * s1 / n) / (n - ddof), 0.0))
    if n > 1:
        # Cancellation in the running sums leaves ~1e-8 of noise where the true answer
        # is 0: find windows with no change at all (exact integer counts) and zero them.
        index = bar_index(a.shape[1])
        changes = ((a != lag(a, 1)) & (index > 0)).astype(np.int64)
        counts = _running_sum(changes)
        flat = (counts - lag(counts, n - 1, fill=0) == 0) & (index >= n - 1)
        std[flat & np.isfinite(std)] = 0.0
    return _restore(std, was_1d)


# --- recursive averages -----------------------------------------------------------------------


def _recursive_average(x: FloatArray, n: int, alpha: float, *, sma_seed: bool) -> FloatArray:
    """``y[t] = (1 - alpha) * y[t-1] + alpha * x[t]`` along the last axis.

    Each row starts at its first finite value ``f``. With ``sma_seed`` (Wilder) the first
    output is the mean of ``x[f : f + n]`` at ``f + n - 1``; otherwise (pandas
    ``adjust=False``) the recursion starts from ``x[f]`` and outputs before ``f + n - 1``
    are masked as warm-up.

    In a stream a row keeps its values from ``f`` on until its seed is known, then the
    filter's state: ``lfilter`` continued from its final state repeats exactly the
    arithmetic of one call over the whole row.
    """
    rows, length = x.shape
    state = carried("recursive_average")
    offset = int(bar_index(1)[0])
    decay = 1.0 - alpha
    seed_at = n - 1 if sma_seed else 0  # counted from the row's start
    if state and "first" in state:
        first, running, zi, pending = (
            state["first"].copy(),
            state["running"].copy(),
            state["zi"].copy(),
            state["pending"].copy(),
        )
    else:
        first = np.full(rows, -1)  # the row's start in the whole series; -1 before it
        running = np.zeros(rows, dtype=np.bool_)  # seeded: zi holds the filter's state
        zi = np.zeros(rows)
        pending = np.full((rows, seed_at), np.nan)  # values from the start, until the seed
    out = np.full_like(x, np.nan)
    if running.any() and length:
        idx = np.flatnonzero(running)
        block = x[idx] if len(idx) < rows else x
        y, zf = lfilter([alpha], [1.0, -decay], block, axis=-1, zi=zi[idx, np.newaxis])
        out[idx], zi[idx] = y, zf[:, 0]
    local = _first_finite(x)
    starting = ~running & (first < 0) & (local < length)
    first[starting] = local[starting] + offset
    for f in np.unique(first[~running & (first >= 0)]).tolist():
        idx = np.flatnonzero(~running & (first == f))
        before = offset - f  # values of these rows from their start to this chunk
        block = x[idx] if len(idx) < rows else x
        series = block[:, max(f - offset, 0) :]
        if before > 0:
            series = np.concatenate([pending[idx, :before], series], axis=1)
        if series.shape[1] <= seed_at:
            pending[idx, : series.shape[1]] = series
            continue
        seed = series[:, : seed_at + 1].mean(axis=1) if sma_seed else series[:, 0].copy()
        values = np.full(series.shape, np.nan)
        values[:, seed_at] = seed
        zi[idx] = decay * seed
        if series.shape[1] > seed_at + 1:
            y, zf = lfilter(
                [alpha], [1.0, -decay], series[:, seed_at + 1 :], axis=-1, zi=zi[idx, np.newaxis]
            )
            values[:, seed_at + 1 :] = y
            zi[idx] = zf[:, 0]
        out[idx, max(f - offset, 0) :] = values[:, max(before, 0) :]
        running[idx] = True
    if not sma_seed and n > 1:  # the warm-up: the first n - 1 values from the row's start
        out[(bar_index(length) < first[:, np.newaxis] + n - 1) | (first[:, np.newaxis] < 0)] = (
            np.nan
        )
    if state is not None:
        state.update(first=first, running=running, zi=zi, pending=pending)
    return out


def ema(x: npt.ArrayLike, span: int) -> FloatArray:
    """Exponential moving average with ``alpha = 2 / (span + 1)``.

    Matches ``pandas.Series.ewm(span=span, adjust=False, min_periods=span).mean()`` on
    finite data: the recursion starts from the first value, and the first ``span - 1``
    values are NaN (warm-up).

    Example: ``ema(close, 20)`` for a (symbols x time) array of closes.
    """
    _check_period(span, "span")
    a, was_1d = _as_2d(x, "x")
    return _restore(_recursive_average(a, span, 2.0 / (span + 1), sma_seed=False), was_1d)


def rma(x: npt.ArrayLike, n: int) -> FloatArray:
    """Wilder's moving average (``alpha = 1 / n``), seeded with the simple mean of the
    first ``n`` values, as in Wilder's ATR, RSI and ADX (and TA-Lib).

    The first ``n - 1`` values (after any leading NaNs) are NaN.
    """
    _check_period(n, "n")
    a, was_1d = _as_2d(x, "x")
    return _restore(_recursive_average(a, n, 1.0 / n, sma_seed=True), was_1d)


# --- range and volatility -------------------------------------------------------------------


def _hlc(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, bool]:
    h, was_1d = _as_2d(high, "high")
    lo, _ = _as_2d(low, "low")
    c, _ = _as_2d(close, "close")
    _same_shape(high=h, low=lo, close=c)
    return h, lo, c, was_1d


def _true_range_2d(h: FloatArray, lo: FloatArray, c: FloatArray) -> FloatArray:
    span = h - lo
    prev = lag(c, 1)
    with np.errstate(invalid="ignore"):
        tr = np.maximum(span, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    return np.where(bar_index(c.shape[1]) == 0, span, tr)


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """True range ``max(high - low, |high - prev_close|, |low - prev_close|)``.

    The first bar has no previous close, so its true range is ``high - low``.
    Needs the ``high``, ``low`` and ``close`` columns, all the same shape.
    """
    h, lo, c, was_1d = _hlc(high, low, close)
    return _restore(_true_range_2d(h, lo, c), was_1d)


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14) -> FloatArray:
    """Average true range: Wilder's average (:func:`rma`) of :func:`true_range`.

    The first ``n - 1`` values are NaN. Divide by ``close`` for ATR as a fraction of price.
    """
    _check_period(n, "n")
    h, lo, c, was_1d = _hlc(high, low, close)
    tr = _true_range_2d(h, lo, c)
    return _restore(_recursive_average(tr, n, 1.0 / n, sma_seed=True), was_1d)


def realized_volatility(close: npt.ArrayLike, n: int) -> FloatArray:
    """Realised volatility: the rolling standard deviation (``ddof=1``) of the last ``n``
    log returns, per bar (not annualised; multiply by ``sqrt(bars per day)`` for a
    daily figure). The first ``n`` values are NaN.
    """
    _check_period(n, "n")
    if n < 2:
        raise ConfigurationError(f"n must be >= 2 for a standard deviation, got {n}")
    c, was_1d = _as_2d(close, "close")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ret = np.log(c / lag(c, 1))  # NaN at the first bar: its window is not full
    return _restore(rolling_std(log_ret, n), was_1d)


def efficiency_ratio(close: npt.ArrayLike, n: int) -> FloatArray:
    """Kaufman's efficiency ratio ``|close[t] - close[t-n]| / sum(|close[k] - close[k-1]|)``
    over the last ``n`` bars: 1 for a straight line, near 0 for noise going nowhere.

    A useful trend strength in [0, 1] (direction-free). A flat window (no movement at
    all) scores 0. The first ``n`` values are NaN.
    """
    _check_period(n, "n")
    c, was_1d = _as_2d(close, "close")
    change = np.abs(_shifted_diff(c, n))
    # Not centred: a flat window must sum to exactly 0. The first bar has no step (NaN),
    # so the path is NaN until n steps are in the window.
    path, _, _ = _rolling_sums(np.abs(_shifted_diff(c, 1)), n, centre=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        er = np.where(path > 0, change / path, 0.0)
    er[~np.isfinite(path) | ~np.isfinite(change)] = np.nan
    return _restore(np.clip(er, 0.0, 1.0), was_1d)


# --- oscillators and trend ------------------------------------------------------------------


def rsi(close: npt.ArrayLike, n: int = 14) -> FloatArray:
    """Wilder's relative strength index in [0, 100]; the first ``n`` values are NaN.

    With no losses in the averaging window the RSI is 100, with no movement at all 50.
    """
    _check_period(n, "n")
    c, was_1d = _as_2d(close, "close")
    delta = _shifted_diff(c, 1)
    gain = np.where(delta > 0, delta, 0.0)
    loss = np.where(delta < 0, -delta, 0.0)
    gain[np.isnan(delta)] = np.nan
    loss[np.isnan(delta)] = np.nan
    avg_gain = _recursive_average(gain, n, 1.0 / n, sma_seed=True)
    avg_loss = _recursive_average(loss, n, 1.0 / n, sma_seed=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    out = np.where(avg_loss == 0, np.where(avg_gain == 0, 50.0, 100.0), out)
    out[np.isnan(avg_gain) | np.isnan(avg_loss)] = np.nan
    return _restore(out, was_1d)


@dataclass(frozen=True, slots=True, eq=False)
class DirectionalMovement:
    """Wilder's directional movement system, each array the shape of the input.

    Attributes
    ----------
    plus_di, minus_di:
        +DI and -DI in [0, 100]; the first ``n`` values are NaN.
    dx:
        ``100 * |+DI - -DI| / (+DI + -DI)``; the first ``n`` values are NaN.
    adx:
        Wilder's average of ``dx``; the first ``2n - 1`` values are NaN.
    """

    plus_di: FloatArray
    minus_di: FloatArray
    dx: FloatArray
    adx: FloatArray


def directional_movement(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14
) -> DirectionalMovement:
    """+DI, -DI, DX and ADX (Wilder, as TA-Lib) from the ``high``, ``low`` and ``close``
    columns. See :class:`DirectionalMovement` for the warm-up of each."""
    _check_period(n, "n")
    h, lo, c, was_1d = _hlc(high, low, close)
    up = _shifted_diff(h, 1)
    down = -_shifted_diff(lo, 1)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = _true_range_2d(h, lo, c)
    # Bar 0 has no previous bar: no movement, no true range to smooth.
    first_bar = bar_index(c.shape[1]) == 0
    plus_dm[:, first_bar] = minus_dm[:, first_bar] = tr[:, first_bar] = np.nan
    smooth_tr = _recursive_average(tr, n, 1.0 / n, sma_seed=True)
    smooth_plus = _recursive_average(plus_dm, n, 1.0 / n, sma_seed=True)
    smooth_minus = _recursive_average(minus_dm, n, 1.0 / n, sma_seed=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = np.where(smooth_tr > 0, 100.0 * smooth_plus / smooth_tr, 0.0)
        minus_di = np.where(smooth_tr > 0, 100.0 * smooth_minus / smooth_tr, 0.0)
        total = plus_di + minus_di
        dx = np.where(total > 0, 100.0 * np.abs(plus_di - minus_di) / total, 0.0)
    warm = np.isnan(smooth_tr) | np.isnan(smooth_plus) | np.isnan(smooth_minus)
    plus_di[warm] = minus_di[warm] = dx[warm] = np.nan
    adx_ = _recursive_average(dx, n, 1.0 / n, sma_seed=True)
    return DirectionalMovement(
        plus_di=_restore(plus_di, was_1d),
        minus_di=_restore(minus_di, was_1d),
        dx=_restore(dx, was_1d),
        adx=_restore(adx_, was_1d),
    )


def adx(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, n: int = 14) -> FloatArray:
    """Average directional index in [0, 100] (trend strength, direction-free); the first
    ``2n - 1`` values are NaN. :func:`directional_movement` also gives +DI and -DI."""
    return directional_movement(high, low, close, n).adx


# --- from bar frames ------------------------------------------------------------------------


def rolling_max(x: FloatArray, n: int) -> FloatArray:
    """Maximum of the last ``n`` values along the last axis (the current one included);
    the first ``n - 1`` values are NaN, and so is every window holding a NaN.

    Example: ``rolling_max(np.array([1.0, 3.0, 2.0]), 2)`` -> ``[nan, 3.0, 3.0]``.
    """
    return _trailing(x, n, maximum=True)


def rolling_min(x: FloatArray, n: int) -> FloatArray:
    """Minimum of the last ``n`` values along the last axis (the current one included);
    the first ``n - 1`` values are NaN, and so is every window holding a NaN.

    Example: ``rolling_min(np.array([1.0, 3.0, 2.0]), 2)`` -> ``[nan, 1.0, 2.0]``.
    """
    return _trailing(x, n, maximum=False)


def _trailing(x: FloatArray, n: int, *, maximum: bool) -> FloatArray:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")
    # In a stream, the last n - 1 values before this chunk complete its first windows.
    joined, before = _with_past(x, n - 1)
    if joined.shape[-1] == 0:
        return np.empty_like(x)
    # scipy's O(length) filter, its window moved from centred to trailing by ``origin``:
    # the output at t covers t - n + 1 .. t, never a later bar.
    filt = maximum_filter1d if maximum else minimum_filter1d
    out: FloatArray = filt(joined, n, axis=-1, mode="nearest", origin=(n - 1) // 2)
    missing = np.isnan(joined)
    if missing.any():
        # As the rolling windows in components.indicators: a NaN spoils its window.
        counts = np.cumsum(missing, axis=-1)
        in_window = counts.copy()
        in_window[..., n:] -= counts[..., :-n]
        out[in_window > 0] = np.nan
    out = out[..., before:]
    out[..., bar_index(x.shape[-1]) < n - 1] = np.nan
    return out


def stack_bars(
    bars: Mapping[str, pd.DataFrame],
    symbols: Sequence[str],
    *,
    length: int,
    columns: Sequence[str] = ("high", "low", "close", "volume"),
) -> dict[str, FloatArray]:
    """Stack the last ``length`` bars of each symbol into (symbols x length) arrays.

    Parameters
    ----------
    bars
        Bars per symbol (see :mod:`components.market.base`); each frame of ``symbols``
        needs ``columns`` and at least ``length`` rows.
    symbols
        Which symbols, in the row order of the result.
    length
        Bars kept per symbol, aligned on the last bar.
    columns
        Columns to stack.

    Returns
    -------
    dict
        ``{column: float64 array of shape (len(symbols), length)}``.

    Raises
    ------
    DataError
        A frame lacks a column or has fewer than ``length`` rows.
    """
    _check_period(length, "length")
    stacked = np.empty((len(symbols), length, len(columns)), dtype=np.float64)
    positions: dict[tuple[object, ...], list[int]] = {}
    for i, symbol in enumerate(symbols):
        frame = bars[symbol]
        names = tuple(frame.columns)
        where = positions.get(names)
        if where is None:
            missing = [c for c in columns if c not in names]
            if missing:
                raise DataError(f"bars of {symbol} have no {', '.join(map(repr, missing))} column")
            where = positions[names] = [names.index(c) for c in columns]
        if len(frame) < length:
            raise DataError(f"bars of {symbol} have {len(frame)} rows, {length} needed")
        # One block for the whole frame (a view when every column is float64).
        values = frame.to_numpy(dtype=np.float64, copy=False)
        stacked[i] = values[len(values) - length :, where]
    return {c: np.ascontiguousarray(stacked[:, :, j]) for j, c in enumerate(columns)}
