"""Breakout: a Donchian channel breakout that must clear the channel by part of an ATR.

The entry channel is the highest high and lowest low of the ``lookback`` bars *before*
the current one; the exit channel the same over ``exit_lookback`` bars (the Turtle rule).
Enter long when ``close > upper + atr_multiple * atr`` and hold until the close falls
below the exit channel's low; enter short on the mirror image (unless ``long_only``). An
entry on one side closes the other.

Confidence is how high the close stands in the entry channel widened by one ATR:
``(close - lower) / (upper - lower + atr)`` for a long (the mirror for a short), capped
at 1. A bare breakout of a channel ``k`` ATRs wide scores ``k / (k + 1)``, a breakout by a
full ATR scores 1, and it falls as the price slips back into the channel.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, atr, lag, rolling_max, rolling_min
from components.strategies._common import from_bar, hold, long_short, share
from components.strategies.base import Strategy, StrategyParams


class BreakoutParams(StrategyParams):
    """Params of :class:`BreakoutStrategy`; the defaults are the classic 20/10 channels."""

    lookback: int = Field(20, ge=5, le=500, description="Bars of the entry channel.")
    exit_lookback: int = Field(10, ge=2, le=500, description="Bars of the exit channel.")
    atr_period: int = Field(14, ge=5, le=100, description="Wilder period of the ATR.")
    atr_multiple: float = Field(
        0.25, ge=0.0, le=3.0, description="ATRs the close must clear the channel by."
    )
    long_only: bool = Field(False, description="Never short; flat instead.")


class BreakoutStrategy(Strategy[BreakoutParams]):
    """Donchian channel breakout with an ATR filter (see the module docstring).

    Example: ``BreakoutStrategy({"lookback": 55, "exit_lookback": 20}).signals(bars)``.
    """

    name: ClassVar[str] = "breakout"
    params_type: ClassVar[type[StrategyParams]] = BreakoutParams
    streams: ClassVar[bool] = True

    @property
    def warmup(self) -> int:
        # Channels of the previous n bars are ready at index n; the ATR at atr_period - 1.
        p = self.params
        return max(p.lookback + 1, p.exit_lookback + 1, p.atr_period)

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        p = self.params
        upper, lower = _previous_channel(high, low, p.lookback)
        exit_upper, exit_lower = _previous_channel(high, low, p.exit_lookback)
        range_ = atr(high, low, close, p.atr_period)
        ready = from_bar(close.shape, self.warmup - 1)
        enter_long = ready & (close > upper + p.atr_multiple * range_)
        enter_short = ready & (close < lower - p.atr_multiple * range_)
        long = hold(enter_long, ready & ((close < exit_lower) | enter_short))
        short = hold(enter_short, ready & ((close > exit_upper) | enter_long))
        direction = long_short(long, short, long_only=p.long_only)
        width = upper - lower + range_
        confidence = np.where(
            direction > 0, share(close - lower, width), share(upper - close, width)
        )
        return direction, confidence


def _previous_channel(high: FloatArray, low: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Highest high and lowest low of the ``n`` bars before each bar (NaN for the first n)."""
    return lag(rolling_max(high, n), 1), lag(rolling_min(low, n), 1)
