"""Mean reversion: buy a close stretched far below its rolling mean, hold until it returns.

``z[t] = (close[t] - sma(close, lookback)[t]) / std(close, lookback)[t]`` (sample standard
deviation; a window with no movement has ``z = 0``). Enter long at ``z <= -entry_z`` and
hold until ``z >= -exit_z``; enter short at ``z >= entry_z`` and hold until
``z <= exit_z`` (unless ``long_only``). An entry on one side closes the other.

Confidence is :func:`~components.strategies._common.setup_confidence` of ``|z|``: 0.7
at the entry level, 1 at twice it, falling as the price reverts.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, rolling_std, sma
from components.strategies._common import from_bar, hold, long_short, setup_confidence
from components.strategies.base import Strategy, StrategyParams


class MeanReversionParams(StrategyParams):
    """Params of :class:`MeanReversionStrategy`.

    ``exit_z`` never exceeds ``entry_z`` (their ranges do not overlap), so every
    combination within the bounds is valid.
    """

    lookback: int = Field(20, ge=5, le=500, description="Bars of the mean and deviation.")
    entry_z: float = Field(2.0, ge=1.0, le=4.0, description="|z| that opens a position.")
    exit_z: float = Field(
        0.0, ge=0.0, le=1.0, description="Close once z is back within this of the mean."
    )
    long_only: bool = Field(False, description="Never short; flat instead.")


class MeanReversionStrategy(Strategy[MeanReversionParams]):
    """Z-score mean reversion with an entry and an exit band (see the module docstring).

    Example: ``MeanReversionStrategy({"entry_z": 2.5}).signals(bars)``.
    """

    name: ClassVar[str] = "mean_reversion"
    params_type: ClassVar[type[StrategyParams]] = MeanReversionParams
    streams: ClassVar[bool] = True

    @property
    def warmup(self) -> int:
        return self.params.lookback

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        p = self.params
        deviation = close - sma(close, p.lookback)
        spread = rolling_std(close, p.lookback)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(spread > 0, deviation / spread, np.where(np.isnan(spread), np.nan, 0.0))
        ready = from_bar(z.shape, self.warmup - 1)
        enter_long = ready & (z <= -p.entry_z)
        enter_short = ready & (z >= p.entry_z)
        long = hold(enter_long, ready & ((z >= -p.exit_z) | enter_short))
        short = hold(enter_short, ready & ((z <= p.exit_z) | enter_long))
        direction = long_short(long, short, long_only=p.long_only)
        return direction, setup_confidence(np.abs(z), p.entry_z)
