"""SMA crossover: long while the fast SMA is above the slow one; short (or flat) otherwise.

The classic strategy the backtester is checked against (``backtesting.py``'s
``SmaCross``). The side follows the sign of ``sma(close, fast) - sma(close, slow)``; a bar
where the two are exactly equal keeps the previous side. With ``wait_for_cross`` (the
default, as ``SmaCross``, which acts only on a crossover) the strategy stays flat until
the first cross after the warm-up, so it never joins a trend halfway. With ``long_only``
(the default) the short side is flat.

Confidence is ``|fast - slow|`` over the standard deviation of the closes in the slow
window, capped at 1: the spread between the averages in units of recent noise.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, forward_fill, lag, rolling_std, running_any, sma
from components.strategies._common import share
from components.strategies.base import FastSlowParams, Strategy, StrategyParams


class SmaCrossoverParams(FastSlowParams):
    """Params of :class:`SmaCrossoverStrategy`; ``fast`` must be below ``slow``."""

    fast: int = Field(10, ge=2, le=200, description="Bars of the fast SMA.")
    slow: int = Field(20, ge=3, le=500, description="Bars of the slow SMA.")
    long_only: bool = Field(True, description="Flat instead of short below the cross.")
    wait_for_cross: bool = Field(
        True, description="Flat until the first crossover after the warm-up."
    )


class SmaCrossoverStrategy(Strategy[SmaCrossoverParams]):
    """Plain fast/slow SMA crossover (see the module docstring).

    Example: ``SmaCrossoverStrategy({"fast": 10, "slow": 20}).signals(bars)``.
    """

    name: ClassVar[str] = "sma_crossover"
    params_type: ClassVar[type[StrategyParams]] = SmaCrossoverParams
    streams: ClassVar[bool] = True

    @property
    def warmup(self) -> int:
        return self.params.slow

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        p = self.params
        spread = sma(close, p.fast) - sma(close, p.slow)
        side = _last_side(spread)
        if p.wait_for_cross:
            before = lag(side, 1, fill=0)
            crossed = (side != before) & (before != 0)
            side = np.where(running_any(crossed), side, 0).astype(np.int8)
        if p.long_only:
            side = np.maximum(side, 0)
        return side, share(np.abs(spread), rolling_std(close, p.slow))


def _last_side(spread: FloatArray) -> npt.NDArray[np.int8]:
    """The sign of the last non-zero, non-NaN ``spread`` at or before each bar (0 before
    the first)."""
    sign = np.sign(np.nan_to_num(spread, nan=0.0)).astype(np.int8)
    return forward_fill(sign, sign != 0, 0)
