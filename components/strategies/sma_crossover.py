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

from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, forward_fill, lag, rolling_std, running_any, sma
from components.strategies._common import share
from components.strategies.base import (
    FastSlowParams,
    SignalArrays,
    Strategy,
    StrategyParams,
    enforce_contract,
)


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
        side = _side(spread, wait_for_cross=p.wait_for_cross, long_only=p.long_only)
        return side, share(np.abs(spread), rolling_std(close, p.slow))

    @classmethod
    def signal_grid(
        cls,
        strategies: Sequence[Strategy[Any]],
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
        *,
        with_confidence: bool = True,
    ) -> SignalArrays:
        """Every set at once: each distinct SMA and standard deviation is computed once,
        the crossover rules run over the (sets x time) block."""
        c = np.asarray(close, dtype=np.float64)[np.newaxis, :]
        params = [cast(SmaCrossoverParams, s.params) for s in strategies]
        windows = {p.fast for p in params} | {p.slow for p in params}
        means = {n: sma(c, n)[0] for n in windows}
        spreads = (
            {n: rolling_std(c, n)[0] for n in {p.slow for p in params}} if with_confidence else {}
        )
        spread = np.vstack([means[p.fast] - means[p.slow] for p in params])
        side = _side(
            spread,
            wait_for_cross=np.array([[p.wait_for_cross] for p in params]),
            long_only=np.array([[p.long_only] for p in params]),
        )
        confidence = (
            share(np.abs(spread), np.vstack([spreads[p.slow] for p in params]))
            if with_confidence
            else None
        )
        warmups = np.array([p.slow for p in params], dtype=np.int64)
        return SignalArrays(*enforce_contract(side, confidence, warmups))


def _side(
    spread: FloatArray,
    *,
    wait_for_cross: bool | npt.NDArray[np.bool_],
    long_only: bool | npt.NDArray[np.bool_],
) -> npt.NDArray[np.int8]:
    """The crossover side per bar of each row of ``spread`` (module docstring rules); the
    flags are one for all rows or one per row (a column). Stream-aware helpers, so the
    incremental computation keeps its state."""
    side = _last_side(spread)
    if np.any(wait_for_cross):
        before = lag(side, 1, fill=0)
        crossed = (side != before) & (before != 0)
        waited = np.where(running_any(crossed), side, 0)
        side = np.where(wait_for_cross, waited, side).astype(np.int8)
    if np.any(long_only):
        side = np.where(long_only, np.maximum(side, 0), side).astype(np.int8)
    return side


def _last_side(spread: FloatArray) -> npt.NDArray[np.int8]:
    """The sign of the last non-zero, non-NaN ``spread`` at or before each bar (0 before
    the first)."""
    sign = np.sign(np.nan_to_num(spread, nan=0.0)).astype(np.int8)
    return forward_fill(sign, sign != 0, 0)
