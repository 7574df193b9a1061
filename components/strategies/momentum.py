"""Momentum: follow the rate of change over a lookback once it clears a threshold.

``roc[t] = close[t] / close[t - lookback] - 1``. Long while ``roc > threshold``, short
while ``roc < -threshold`` (unless ``long_only``), flat in between. Confidence is
:func:`~components.strategies._common.setup_confidence` of ``|roc|``: 0.7 just past the
threshold, 1 at twice it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from components.indicators import FloatArray, returns
from components.strategies._common import long_short, setup_confidence
from components.strategies.base import Strategy, StrategyParams


class MomentumParams(StrategyParams):
    """Params of :class:`MomentumStrategy`; the defaults suit hourly crypto bars."""

    lookback: int = Field(20, ge=2, le=500, description="Bars of the rate of change.")
    threshold: float = Field(
        0.02, ge=0.001, le=0.5, description="Rate of change (0.02 = 2%) needed to act."
    )
    long_only: bool = Field(False, description="Never short; flat instead.")


class MomentumStrategy(Strategy[MomentumParams]):
    """Rate-of-change momentum (see the module docstring).

    Example: ``MomentumStrategy({"lookback": 48, "threshold": 0.03}).signals(bars)``.
    """

    name: ClassVar[str] = "momentum"
    params_type: ClassVar[type[StrategyParams]] = MomentumParams
    streams: ClassVar[bool] = True

    @property
    def warmup(self) -> int:
        return self.params.lookback + 1

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        p = self.params
        roc = returns(close, p.lookback)
        direction = long_short(roc > p.threshold, roc < -p.threshold, long_only=p.long_only)
        return direction, setup_confidence(np.abs(roc), p.threshold)
