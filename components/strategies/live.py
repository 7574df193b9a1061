"""The engine's view of a strategy: one :class:`~components.trading.Signal` for the last
closed bar, computed by the same :meth:`Strategy.signal_arrays` the backtester runs."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd

from components.errors import DataError
from components.indicators import atr
from components.market.validation import bar_closes, infer_timeframe
from components.strategies.base import Strategy
from components.trading import Signal


def latest_signal(
    strategy: Strategy[Any],
    symbol: str,
    bars: pd.DataFrame,
    *,
    timeframe: str | None = None,
    atr_period: int = 14,
) -> Signal | None:
    """The strategy's signal for the last bar of ``bars`` (direction 0 means: be flat).

    Parameters
    ----------
    strategy
        Any strategy.
    symbol
        Goes into the signal.
    bars
        Closed bars per :mod:`components.market.base`, oldest first.
    timeframe
        The bars' timeframe (``"1h"``), to compute the bar's close time; by default the
        spacing of the last two bars.
    atr_period
        Period of the ATR given with the signal (for stops and sizing).

    Returns
    -------
    Signal or None
        ``None`` when there are fewer than ``strategy.warmup`` bars. Otherwise a signal
        with ``at`` = the last bar's close time, ``price`` = its close and ``atr`` = the
        ATR at that bar (``None`` while the ATR is still warming up).

    Raises
    ------
    DataError
        The bars lack a column, or the last close is not a positive number.

    Example: ``latest_signal(create_strategy("momentum"), "BTC/USDT", bars)``.
    """
    if len(bars) < max(strategy.warmup, 2 if timeframe is None else 1):
        return None
    frame = strategy.signals(bars)
    last = bars.index[-1]
    close = float(bars["close"].iloc[-1])
    if not (math.isfinite(close) and close > 0):
        raise DataError(f"{symbol}: the last close ({last}) is {close}, not a positive price")
    # The close of the last bar: one timeframe after its open (the bar before it may lie
    # across a gap, so its spacing says nothing).
    tf = timeframe or infer_timeframe(bars.index[-100:], where=symbol)
    closes = bar_closes(cast(pd.DatetimeIndex, bars.index[-1:]), tf)
    atr_now = _last_atr(bars, atr_period)
    return Signal(
        strategy=strategy.name,
        symbol=symbol,
        direction=int(frame["direction"].iloc[-1]),
        confidence=float(frame["confidence"].iloc[-1]),
        at=pd.Timestamp(closes[0]).to_pydatetime(),
        price=close,
        atr=atr_now,
    )


def _last_atr(bars: pd.DataFrame, n: int) -> float | None:
    if len(bars) < n:
        return None
    high, low, close = (bars[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
    value = float(atr(high, low, close, n)[-1])
    return value if math.isfinite(value) and value >= 0 else None
