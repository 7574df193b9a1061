"""Performance metrics from an equity curve (and, when there are any, its trades).

Pure functions over arrays and series, usable by the backtester and by analytics alike::

    metrics = metrics_from_equity(equity, trades=trades, initial_equity=10_000)
    metrics.sharpe, metrics.max_drawdown, metrics.max_drawdown_duration

Conventions
-----------
- Returns are simple per-bar returns of the equity curve; the risk-free rate is 0.
- Annualisation uses the bar frequency: ``periods_per_year = 365 days / bar spacing``
  (crypto trades every day: 8,760 hourly bars make a year), inferred from the index by
  :func:`infer_periods_per_year` unless given.
- Sharpe is ``mean / std * sqrt(periods_per_year)`` (sample standard deviation); Sortino
  divides by the downside deviation ``sqrt(mean(min(r, 0) ** 2))`` instead. A flat curve
  scores 0 on both; steady gains with no variation (Sharpe) or no losing bar (Sortino)
  score ``inf``.
- Drawdown is the fall from the running peak as a fraction of that peak, in [0, 1]
  (a wiped-out account is at 1). Its duration runs from the peak to the bar the curve
  regains it, or to the end when it never does.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, DataError
from components.indicators import FloatArray

YEAR = pd.Timedelta(days=365)
"""The length of a year for annualisation: crypto markets never close."""

_ROUNDING = 1e-9  # a spread of returns this small next to their mean is rounding noise

__all__ = [
    "YEAR",
    "Metrics",
    "cagr",
    "drawdown",
    "drawdown_durations",
    "infer_periods_per_year",
    "metrics_from_equity",
    "profit_factor",
    "sharpe_ratio",
    "sortino_ratio",
    "win_rate",
]


class Metrics(BaseModel):
    """What a backtest (or a live track record) achieved; see the module docstring.

    Ratios that have no meaning without trades (``win_rate``, ``profit_factor``) are
    ``None`` when there were none; ``exposure`` is ``None`` when it was not known.

    Example: ``metrics.sharpe``, ``metrics.model_dump()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    initial_equity: float = Field(description="Equity before the first bar.")
    final_equity: float = Field(description="Equity after the last bar.")
    total_return: float = Field(description="final_equity / initial_equity - 1.")
    cagr: float = Field(description="Compound annual growth rate.")
    volatility: float = Field(ge=0, description="Annualised standard deviation of returns.")
    sharpe: float = Field(description="Annualised Sharpe ratio (risk-free rate 0).")
    sortino: float = Field(description="Annualised Sortino ratio (target return 0).")
    max_drawdown: float = Field(ge=0, le=1, description="Largest fall from a peak, 0.25 = 25%.")
    max_drawdown_bars: int = Field(
        ge=0, description="Longest time from a peak until it is regained (or the end), in bars."
    )
    max_drawdown_duration: timedelta | None = Field(
        description="The same in time; None without a time index."
    )
    n_trades: int = Field(ge=0, description="Closed trades.")
    win_rate: float | None = Field(ge=0, le=1, description="Share of trades with pnl > 0.")
    profit_factor: float | None = Field(
        ge=0, description="Gross profit / gross loss; inf without a losing trade."
    )
    exposure: float | None = Field(
        ge=0, le=1, description="Share of bars with a position open during the bar."
    )
    bars: int = Field(ge=0, description="Bars in the equity curve.")
    periods_per_year: float = Field(gt=0, description="Bars per year used to annualise.")


# --- building blocks -------------------------------------------------------------------------


def infer_periods_per_year(index: pd.Index) -> float:
    """Bars per (365-day) year from the median spacing of a ``DatetimeIndex``.

    Raises
    ------
    DataError
        ``index`` is not a ``DatetimeIndex``, has fewer than two entries, or its median
        spacing is not positive; pass ``periods_per_year`` explicitly then.

    Example: ``infer_periods_per_year(pd.date_range("2024", periods=48, freq="h"))`` -> 8760.0.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"cannot infer the bar frequency from a {type(index).__name__}; "
            "index the equity by time or pass periods_per_year"
        )
    if len(index) < 2:
        raise DataError("cannot infer the bar frequency from fewer than 2 timestamps")
    step = pd.Timedelta(np.median(np.diff(index.asi8)), unit=index.unit)
    if step <= pd.Timedelta(0):
        raise DataError(f"timestamps are not increasing (median spacing {step})")
    return float(YEAR / step)


def drawdown(equity: npt.ArrayLike, *, initial_equity: float | None = None) -> FloatArray:
    """Fall from the running peak as a fraction of the peak at each point, in [0, 1].

    ``initial_equity``, when given, is the peak before the first point. Where the peak is
    not positive the drawdown is 0 (nothing to lose).

    Example: ``drawdown([100.0, 120.0, 90.0, 130.0])`` -> ``[0.0, 0.0, 0.25, 0.0]``.
    """
    values = np.asarray(equity, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    peak = np.maximum.accumulate(values)
    if initial_equity is not None:
        np.maximum(peak, initial_equity, out=peak)
    if peak[0] > 0:  # every peak is positive: one pass, in place
        out = np.divide(values, peak, out=peak)
        np.subtract(1.0, out, out=out)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(peak > 0, 1.0 - values / peak, 0.0)
    return np.clip(out, 0.0, 1.0, out=out)


def drawdown_durations(equity: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """For each point, how many points ago the running peak was set (0 at a new peak).

    A point equal to the peak counts as regaining it.

    Example: ``drawdown_durations([1.0, 0.5, 0.7, 1.2, 1.1])`` -> ``[0, 1, 2, 0, 1]``.
    """
    values = np.asarray(equity, dtype=np.float64)
    positions = np.arange(values.size)
    if values.size == 0:
        return positions.astype(np.int64)
    at_peak = values >= np.maximum.accumulate(values)
    last_peak = np.maximum.accumulate(np.where(at_peak, positions, 0))
    return (positions - last_peak).astype(np.int64)


def sharpe_ratio(returns: npt.ArrayLike, periods_per_year: float) -> float:
    """Annualised ``mean / std`` of per-bar ``returns``.

    Returns that do not vary (to within rounding) give ``+-inf`` by the sign of their
    mean, and 0 when it is 0 or there are fewer than two.

    Example: ``sharpe_ratio([0.01, -0.005, 0.002], 8760)``.
    """
    r = np.asarray(returns, dtype=np.float64)
    mean = float(r.mean()) if r.size else 0.0
    std = float(r.std(ddof=1)) if r.size > 1 else 0.0
    return _sharpe(mean, std, r.size, periods_per_year)


def sortino_ratio(returns: npt.ArrayLike, periods_per_year: float) -> float:
    """Annualised ``mean / downside deviation`` of per-bar ``returns``.

    ``inf`` when the mean is positive and no bar lost; 0 when the mean is not positive
    and no bar lost.

    Example: ``sortino_ratio([0.01, -0.005, 0.002], 8760)``.
    """
    r = np.asarray(returns, dtype=np.float64)
    mean = float(r.mean()) if r.size else 0.0
    return _sortino(mean, _downside_deviation(r), periods_per_year)


def _sharpe(mean: float, std: float, count: int, periods_per_year: float) -> float:
    if count < 2:
        return 0.0
    if std <= _ROUNDING * abs(mean) or std == 0:
        return math.copysign(math.inf, mean) if mean != 0 else 0.0
    return mean / std * math.sqrt(periods_per_year)


def _sortino(mean: float, downside: float, periods_per_year: float) -> float:
    if not downside > 0:
        return math.inf if mean > 0 else 0.0
    return mean / downside * math.sqrt(periods_per_year)


def _downside_deviation(r: FloatArray) -> float:
    """``sqrt(mean(min(r, 0) ** 2))``."""
    if r.size == 0:
        return 0.0
    losses = np.minimum(r, 0.0)
    np.square(losses, out=losses)
    return math.sqrt(float(losses.sum()) / r.size)  # not np.dot: BLAS threads cost more here


def cagr(initial_equity: float, final_equity: float, years: float) -> float:
    """Compound annual growth rate; -1 when the equity is gone, 0 over no time, ``inf``
    when a short run's growth compounds past the float range.

    Example: ``cagr(100.0, 121.0, 2.0)`` -> ``0.1``.
    """
    if years <= 0 or initial_equity <= 0:
        return 0.0
    if final_equity <= 0:
        return -1.0
    with np.errstate(over="ignore", divide="ignore"):
        return float(np.expm1(np.log(final_equity / initial_equity) / years))


def win_rate(pnl: npt.ArrayLike) -> float | None:
    """Share of trades with a positive ``pnl``; ``None`` without trades.

    Example: ``win_rate([10.0, -5.0, 3.0, 0.0])`` -> ``0.5``.
    """
    values = np.asarray(pnl, dtype=np.float64)
    return float(np.mean(values > 0)) if values.size else None


def profit_factor(pnl: npt.ArrayLike) -> float | None:
    """Gross profit over gross loss; ``inf`` with profits and no loss, ``None`` without
    trades or when every trade broke even.

    Example: ``profit_factor([10.0, -5.0, 3.0])`` -> ``2.6``.
    """
    values = np.asarray(pnl, dtype=np.float64)
    gains = float(values[values > 0].sum())
    losses = float(-values[values < 0].sum())
    if losses > 0:
        return gains / losses
    return math.inf if gains > 0 else None


# --- the summary ----------------------------------------------------------------------------------


def metrics_from_equity(
    equity: pd.Series,
    *,
    trades: pd.DataFrame | npt.ArrayLike | None = None,
    initial_equity: float | None = None,
    exposure: float | None = None,
    periods_per_year: float | None = None,
) -> Metrics:
    """Every :class:`Metrics` field from an equity curve and, optionally, its trades.

    Parameters
    ----------
    equity
        Equity at each bar, oldest first, indexed by time (a ``DatetimeIndex``; any index
        when ``periods_per_year`` is given, but then no duration in time).
    trades
        Closed trades: a frame with a ``pnl`` column (one row per trade) or the pnl of
        each trade as an array; ``None``: ``n_trades`` is 0 and the trade ratios ``None``.
    initial_equity
        Equity before the first bar (a backtest's starting cash); by default the first
        point of ``equity``. It counts as a point of the curve: the first return is
        ``equity[0] / initial_equity - 1`` and it can be the first peak.
    exposure
        Share of bars in the market, when the caller knows it (the backtester does).
    periods_per_year
        Bars per year for annualising; inferred from the index by default.

    Raises
    ------
    DataError
        ``equity`` is empty or holds NaN, or the bar frequency cannot be inferred.
    ConfigurationError
        ``exposure`` is outside [0, 1].

    Example: ``metrics_from_equity(result.equity, trades=result.trades, initial_equity=1e4)``.
    """
    values = np.asarray(equity.to_numpy(dtype=np.float64, na_value=np.nan))
    if values.size == 0:
        raise DataError("the equity curve is empty")
    if not np.isfinite(values.sum()) and not np.isfinite(values).all():  # sum: one pass
        row = int(np.argmax(~np.isfinite(values)))
        raise DataError(f"the equity curve is not finite at row {row} ({equity.index[row]})")
    if exposure is not None and not 0 <= exposure <= 1:
        raise ConfigurationError(f"exposure={exposure!r} must be in [0, 1]")
    ppy = periods_per_year or infer_periods_per_year(equity.index)

    start = float(values[0]) if initial_equity is None else float(initial_equity)
    curve = values if initial_equity is None else np.concatenate(([start], values))
    if curve.min() > 0:
        returns = curve[1:] / curve[:-1]
        returns -= 1.0
    else:  # a return from nothing counts as 0
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.where(curve[:-1] > 0, curve[1:] / curve[:-1] - 1.0, 0.0)
    final = float(values[-1])
    years = (curve.size - 1) / ppy

    deepest, worst, longest = _drawdown_profile(curve)
    duration = _duration(equity.index, worst, longest, prepended=initial_equity is not None)

    pnl: FloatArray = np.empty(0)
    if isinstance(trades, pd.DataFrame):
        if len(trades) and "pnl" not in trades.columns:
            raise DataError("trades have no 'pnl' column")
        if len(trades):
            pnl = trades["pnl"].to_numpy(dtype=np.float64)
    elif trades is not None:
        pnl = np.asarray(trades, dtype=np.float64).ravel()

    mean = float(returns.mean()) if returns.size else 0.0
    std = float(returns.std(ddof=1)) if returns.size > 1 else 0.0
    return Metrics(
        initial_equity=start,
        final_equity=final,
        total_return=final / start - 1.0 if start > 0 else 0.0,
        cagr=cagr(start, final, years),
        volatility=std * math.sqrt(ppy),
        sharpe=_sharpe(mean, std, returns.size, ppy),
        sortino=_sortino(mean, _downside_deviation(returns), ppy),
        max_drawdown=deepest,
        max_drawdown_bars=longest,
        max_drawdown_duration=duration,
        n_trades=int(pnl.size),
        win_rate=win_rate(pnl),
        profit_factor=profit_factor(pnl),
        exposure=exposure,
        bars=int(values.size),
        periods_per_year=ppy,
    )


def _drawdown_profile(curve: FloatArray) -> tuple[float, int, int]:
    """The deepest drawdown of ``curve``, and of its longest one the point that ends it
    (the first back at the peak, or the last point when none is) and its length in points.
    """
    peak = np.maximum.accumulate(curve)
    if curve[0] > 0:  # then every peak is positive
        ratio = curve / peak
        deepest = float(np.clip(1.0 - ratio.min(), 0.0, 1.0))
    else:
        deepest = float(drawdown(curve).max())
    # Points at a peak, in order: a gap of g > 1 between two of them is a drawdown that
    # lasted g points; after the last peak, one still under water at the end.
    peaks = np.flatnonzero(curve >= peak)
    gaps = np.diff(peaks)
    longest = int(gaps.max()) if gaps.size else 0
    tail = curve.size - 1 - int(peaks[-1])
    if tail > longest or longest <= 1:
        return deepest, curve.size - 1, tail
    j = int(np.argmax(gaps))
    return deepest, int(peaks[j + 1]), longest


def _duration(index: pd.Index, end: int, length: int, *, prepended: bool) -> timedelta | None:
    """The time from the peak ``length`` points before point ``end`` of the curve to it.

    With ``prepended``, point 0 of the curve is the initial equity, one bar before
    ``index[0]``.
    """
    if not isinstance(index, pd.DatetimeIndex):
        return None
    if length == 0:
        return timedelta(0)
    stamps = index.asi8
    if prepended:  # point 0 is one bar (the first spacing) before the first bar
        first = int(stamps[0]) - (int(stamps[1] - stamps[0]) if stamps.size > 1 else 0)
        start = first if end - length == 0 else int(stamps[end - length - 1])
        ticks = int(stamps[end - 1]) - start
    else:
        ticks = int(stamps[end] - stamps[end - length])
    return pd.Timedelta(ticks, unit=index.unit).to_pytimedelta()  # ticks in the index's unit
