"""Pure performance arithmetic shared by the analytics reports and the charts.

Everything here is a function of its inputs: series or sequences in, numbers out.

Conventions
-----------
drawdown
    A fraction below the running peak of an equity curve: ``equity / peak - 1``, so it
    lies in ``[-1, 0]`` as a series, and :func:`max_drawdown` reports its depth as a
    positive fraction in ``[0, 1]``.
Sharpe
    From a *daily realised PnL* series (quote currency), zero-filled over every calendar
    day from the first to the last day with a fill, annualised with ``sqrt(365)`` (crypto
    trades every day): ``mean / std(ddof=1) * sqrt(365)``. With a constant capital base
    the ratio of daily PnL equals the ratio of daily returns, so no capital figure is
    needed. Per-trade returns were rejected: their Sharpe depends on how often a strategy
    trades and on position size, which makes strategies incomparable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from components.errors import DataError

DAYS_PER_YEAR = 365


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Fractional drawdown of ``equity`` below its running peak, in ``[-1, 0]``.

    A point whose running peak is not positive (an account that never had money) is
    reported as ``-1``.

    Example: ``drawdown_series(pd.Series([100.0, 120.0, 90.0])).tolist() == [0, 0, -0.25]``.

    Raises
    ------
    DataError
        ``equity`` holds NaN or infinite values.
    """
    values = _finite_values(equity, "equity")
    peak = np.maximum.accumulate(values) if len(values) else values
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(peak > 0, values / np.where(peak > 0, peak, 1.0) - 1.0, -1.0)
    return pd.Series(np.clip(depth, -1.0, 0.0), index=equity.index, name="drawdown")


def max_drawdown(equity: pd.Series) -> float:
    """The deepest drawdown of ``equity`` as a positive fraction in ``[0, 1]`` (0 if empty).

    Example: ``max_drawdown(pd.Series([100.0, 120.0, 90.0])) == 0.25``.
    """
    if len(equity) == 0:
        return 0.0
    return float(-drawdown_series(equity).min())


def daily_pnl_series(by_day: Mapping[date, float]) -> pd.Series:
    """Realised PnL per calendar day, zero-filled from the first to the last day given.

    Example: ``daily_pnl_series({date(2026, 1, 1): 5.0, date(2026, 1, 3): -2.0})`` has
    three values: 5, 0, -2.
    """
    if not by_day:
        return pd.Series([], dtype=float, name="pnl")
    first, last = min(by_day), max(by_day)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return pd.Series([float(by_day.get(day, 0.0)) for day in days], index=days, name="pnl")


def sharpe_ratio(
    daily_pnl: pd.Series | Iterable[float], *, periods_per_year: int = 365
) -> float | None:
    """Annualised Sharpe ratio of a daily PnL series (see the module docstring).

    None when it is undefined: fewer than two days, or no variation at all.

    Example: ``sharpe_ratio([10.0, -5.0, 8.0])`` (about 10.4).
    """
    values = np.asarray(list(daily_pnl), dtype=float)
    if len(values) < 2:
        return None
    if not np.isfinite(values).all():
        raise DataError("daily PnL holds NaN or infinite values")
    spread = float(values.std(ddof=1))
    if spread <= 1e-12 * max(1.0, float(np.abs(values).max())):
        return None
    return float(values.mean()) / spread * math.sqrt(periods_per_year)


def window_drawdown(base: float, pnls: Iterable[float]) -> float:
    """Deepest drawdown, as a fraction in ``[0, 1]``, of the realised equity curve that
    starts at ``base`` and moves by each of ``pnls`` in turn (the start counts as a peak).

    Example: ``window_drawdown(1_000.0, [100.0, -220.0]) == 0.2``.
    """
    curve = np.concatenate(([base], base + np.cumsum(np.asarray(list(pnls), dtype=float))))
    return max_drawdown(pd.Series(curve))


def _finite_values(series: pd.Series, what: str) -> np.ndarray:
    values = np.asarray(series, dtype=float)
    if len(values) and not np.isfinite(values).all():
        bad = series.index[~np.isfinite(values)][0]
        raise DataError(f"{what} holds a NaN or infinite value at {bad!r}")
    return values
