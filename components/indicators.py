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
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.signal import lfilter

from components.errors import ConfigurationError, DataError

FloatArray: TypeAlias = npt.NDArray[np.float64]

__all__ = [
    "DirectionalMovement",
    "FloatArray",
    "adx",
    "atr",
    "directional_movement",
    "efficiency_ratio",
    "ema",
    "log_returns",
    "realized_volatility",
    "returns",
    "rma",
    "rolling_std",
    "rsi",
    "sma",
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
    out = np.full_like(x, np.nan)
    if periods < x.shape[1]:
        out[:, periods:] = x[:, periods:] - x[:, :-periods]
    return out


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
    out = np.full_like(c, np.nan)
    if periods < c.shape[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, periods:] = c[:, periods:] / c[:, :-periods] - 1.0
    return _restore(out, was_1d)


def log_returns(close: npt.ArrayLike, periods: int = 1) -> FloatArray:
    """Log returns ``log(close[t] / close[t - periods])``; NaN for the first ``periods``.

    Example: ``log_returns([100.0, 110.0])`` -> ``[nan, 0.0953...]``.
    """
    _check_period(periods, "periods")
    c, was_1d = _as_2d(close, "close")
    out = np.full_like(c, np.nan)
    if periods < c.shape[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, periods:] = np.log(c[:, periods:] / c[:, :-periods])
    return _restore(out, was_1d)


# --- rolling windows --------------------------------------------------------------------------


def _window_sums(values: FloatArray, n: int) -> FloatArray:
    """Sums of ``n`` consecutive columns, shape (rows, length - n + 1)."""
    c = np.cumsum(values, axis=1)
    out = np.empty((values.shape[0], values.shape[1] - n + 1))
    out[:, 0] = c[:, n - 1]
    np.subtract(c[:, n:], c[:, : values.shape[1] - n], out=out[:, 1:])
    return out


def _rolling_sums(
    x: FloatArray, n: int, *, squares: bool = False, centre: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rolling sums of ``x - offset`` and of its squares over ``n`` columns, NaN where the
    window is not full of finite values, and the per-row ``offset`` (the row's first
    finite value, or 0 without ``centre``). Centring keeps the cumulative sums precise
    on large prices, and the variance does not depend on it. Without ``squares`` the
    second array is empty."""
    rows, length = x.shape
    sums = np.full_like(x, np.nan)
    sums_sq = np.full_like(x, np.nan) if squares else np.empty((0, 0))
    offset = np.zeros(rows)
    if n > length:
        return sums, sums_sq, offset
    finite = np.isfinite(x)
    if finite.all():
        if centre:
            offset = x[:, 0].copy()
        centred = x - offset[:, np.newaxis]
        invalid = None
    else:
        if centre:
            first = _first_finite(x)
            has = first < length
            offset[has] = x[np.flatnonzero(has), first[has]]
        centred = np.where(finite, x - offset[:, np.newaxis], 0.0)
        invalid = _window_sums((~finite).astype(np.float64), n) > 0
    s1 = _window_sums(centred, n)
    if invalid is not None:
        s1[invalid] = np.nan
    sums[:, n - 1 :] = s1
    if squares:
        centred *= centred
        s2 = _window_sums(centred, n)
        if invalid is not None:
            s2[invalid] = np.nan
        sums_sq[:, n - 1 :] = s2
    return sums, sums_sq, offset


def sma(x: npt.ArrayLike, n: int) -> FloatArray:
    """Simple moving average over ``n`` values; the first ``n - 1`` are NaN.

    Example: ``sma([1.0, 2.0, 3.0], 2)`` -> ``[nan, 1.5, 2.5]``.
    """
    _check_period(n, "n")
    a, was_1d = _as_2d(x, "x")
    sums, _, offset = _rolling_sums(a, n)
    return _restore(sums / n + offset[:, np.newaxis], was_1d)


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
    if n > 1 and a.shape[1] >= n:
        # Cancellation in the running sums leaves ~1e-8 of noise where the true answer
        # is 0: find windows with no change at all (exact integer counts) and zero them.
        changes = np.zeros(a.shape, dtype=np.int64)
        changes[:, 1:] = a[:, 1:] != a[:, :-1]
        counts = np.cumsum(changes, axis=1)
        in_window = counts[:, n - 1 :] - counts[:, : a.shape[1] - n + 1]
        flat = np.zeros(a.shape, dtype=np.bool_)
        flat[:, n - 1 :] = in_window == 0
        std[flat & np.isfinite(std)] = 0.0
    return _restore(std, was_1d)


# --- recursive averages -----------------------------------------------------------------------


def _recursive_average(x: FloatArray, n: int, alpha: float, *, sma_seed: bool) -> FloatArray:
    """``y[t] = (1 - alpha) * y[t-1] + alpha * x[t]`` along the last axis.

    Each row starts at its first finite value ``f``. With ``sma_seed`` (Wilder) the first
    output is the mean of ``x[f : f + n]`` at ``f + n - 1``; otherwise (pandas
    ``adjust=False``) the recursion starts from ``x[f]`` and outputs before ``f + n - 1``
    are masked as warm-up.
    """
    rows, length = x.shape
    out = np.full_like(x, np.nan)
    first = _first_finite(x)
    decay = 1.0 - alpha
    for f in np.unique(first):
        start = int(f)
        seed_at = start + n - 1 if sma_seed else start
        if seed_at >= length:
            continue
        idx = np.flatnonzero(first == f)
        block = x[idx] if len(idx) < rows else x
        seed = block[:, start : seed_at + 1].mean(axis=1) if sma_seed else block[:, start]
        out[idx, seed_at] = seed
        if seed_at + 1 < length:
            y, _ = lfilter(
                [alpha],
                [1.0, -decay],
                block[:, seed_at + 1 :],
                axis=-1,
                zi=(decay * seed)[:, np.newaxis],
            )
            out[idx, seed_at + 1 :] = y
        if not sma_seed and n > 1:
            out[idx, start : start + n - 1] = np.nan
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
    tr = h - lo
    if c.shape[1] > 1:
        prev = c[:, :-1]
        tr[:, 1:] = np.maximum(
            tr[:, 1:], np.maximum(np.abs(h[:, 1:] - prev), np.abs(lo[:, 1:] - prev))
        )
    return tr


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
    out = np.full_like(c, np.nan)
    if c.shape[1] > n:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ret = np.log(c[:, 1:] / c[:, :-1])
        out[:, 1:] = rolling_std(log_ret, n)
    return _restore(out, was_1d)


def efficiency_ratio(close: npt.ArrayLike, n: int) -> FloatArray:
    """Kaufman's efficiency ratio ``|close[t] - close[t-n]| / sum(|close[k] - close[k-1]|)``
    over the last ``n`` bars: 1 for a straight line, near 0 for noise going nowhere.

    A useful trend strength in [0, 1] (direction-free). A flat window (no movement at
    all) scores 0. The first ``n`` values are NaN.
    """
    _check_period(n, "n")
    c, was_1d = _as_2d(close, "close")
    out = np.full_like(c, np.nan)
    if c.shape[1] <= n:
        return _restore(out, was_1d)
    change = np.abs(c[:, n:] - c[:, :-n])
    # Not centred: a flat window must sum to exactly 0.
    path, _, _ = _rolling_sums(np.abs(c[:, 1:] - c[:, :-1]), n, centre=False)
    path = path[:, n - 1 :]
    with np.errstate(divide="ignore", invalid="ignore"):
        er = np.where(path > 0, change / path, 0.0)
    er[~np.isfinite(path) | ~np.isfinite(change)] = np.nan
    out[:, n:] = np.clip(er, 0.0, 1.0)
    return _restore(out, was_1d)


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
    plus_dm[:, :1] = minus_dm[:, :1] = tr[:, :1] = np.nan
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
    if x.shape[-1] == 0:
        return np.empty_like(x)
    # scipy's O(length) filter, its window moved from centred to trailing by ``origin``:
    # the output at t covers t - n + 1 .. t, never a later bar.
    filt = maximum_filter1d if maximum else minimum_filter1d
    out: FloatArray = filt(x, n, axis=-1, mode="nearest", origin=(n - 1) // 2)
    out[..., : n - 1] = np.nan
    missing = np.isnan(x)
    if missing.any():
        # As the rolling windows in components.indicators: a NaN spoils its window.
        counts = np.cumsum(missing, axis=-1)
        in_window = counts.copy()
        in_window[..., n:] -= counts[..., :-n]
        out[in_window > 0] = np.nan
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
