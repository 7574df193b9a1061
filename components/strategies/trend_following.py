"""Trend following: the side of a fast/slow EMA cross, only while ADX says there is a trend.

Long while ``ema(close, fast) > ema(close, slow)`` and ``adx >= adx_threshold``, short
while the fast EMA is below the slow one with the same ADX condition (unless
``long_only``), flat when ADX is below the threshold. Confidence is
:func:`~components.strategies._common.setup_confidence` of the ADX: 0.7 at the
threshold, 1 at twice it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, adx, ema
from components.strategies._common import long_short, setup_confidence
from components.strategies.base import FastSlowParams, Strategy, StrategyParams


class TrendFollowingParams(FastSlowParams):
    """Params of :class:`TrendFollowingStrategy`; ``fast`` must be below ``slow``."""

    fast: int = Field(12, ge=2, le=100, description="Span of the fast EMA.")
    slow: int = Field(26, ge=5, le=400, description="Span of the slow EMA.")
    adx_period: int = Field(14, ge=5, le=50, description="Wilder period of the ADX.")
    adx_threshold: float = Field(
        25.0, ge=10.0, le=50.0, description="ADX at or above which a trend is traded."
    )
    long_only: bool = Field(False, description="Never short; flat instead.")


class TrendFollowingStrategy(Strategy[TrendFollowingParams]):
    """EMA cross filtered by ADX (see the module docstring).

    Example: ``TrendFollowingStrategy({"fast": 20, "slow": 50}).signals(bars)``.
    """

    name: ClassVar[str] = "trend_following"
    params_type: ClassVar[type[StrategyParams]] = TrendFollowingParams
    streams: ClassVar[bool] = True

    @property
    def warmup(self) -> int:
        # The slow EMA is ready at index slow - 1, the ADX at 2 * adx_period - 1.
        return max(self.params.slow, 2 * self.params.adx_period)

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        p = self.params
        spread = ema(close, p.fast) - ema(close, p.slow)
        strength = adx(high, low, close, p.adx_period)
        trending = strength >= p.adx_threshold
        direction = long_short(
            trending & (spread > 0), trending & (spread < 0), long_only=p.long_only
        )
        return direction, setup_confidence(strength, p.adx_threshold)
