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

from components.indicators import (
    FloatArray,
    forward_fill,
    lag,
    rolling_std,
    running_any,
    sma,
    sma_windows,
)
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
        """Every set at once: each distinct SMA and standard deviation is computed once;
        each set's side is then found in one row of the (sets x time) block, a row at a
        time so the work stays in the cache (a whole block of floats per step is slower
        than the row loop). Each row equals :meth:`signal_arrays` of its set."""
        c = np.asarray(close, dtype=np.float64)[np.newaxis, :]
        params = [cast(SmaCrossoverParams, s.params) for s in strategies]
        windows = {p.fast for p in params} | {p.slow for p in params}
        means = {n: mean[0] for n, mean in sma_windows(c, sorted(windows)).items()}
        side = np.empty((len(params), c.shape[1]), dtype=np.int8)
        for r, p in enumerate(params):
            side[r] = _row_side(means[p.fast], means[p.slow], p)
        if not with_confidence:  # the caller sizes without it (see Strategy.signal_grid)
            return SignalArrays(side, np.broadcast_to(np.float64(1.0), side.shape))
        stds = {n: rolling_std(c, n)[0] for n in {p.slow for p in params}}
        confidence = np.empty(side.shape)
        for r, p in enumerate(params):
            confidence[r] = share(np.abs(means[p.fast] - means[p.slow]), stds[p.slow])
        warmups = np.array([p.slow for p in params], dtype=np.int64)
        return SignalArrays(*enforce_contract(side, confidence, warmups))


def _row_side(fast: FloatArray, slow: FloatArray, p: SmaCrossoverParams) -> npt.NDArray[np.int8]:
    """:func:`_side` of one set from its 1-D averages in a few passes over bytes. The
    averages are NaN exactly over the warm-up (the first ``slow - 1`` bars of finite
    closes); ``fast > slow`` is ``fast - slow > 0`` for floats, so no spread is formed
    unless a tie after the warm-up (equal averages) sends the row the general way."""
    above, below = fast > slow, fast < slow
    start = min(p.slow - 1, above.size)  # the first bar with a side
    tie = np.count_nonzero(above) + np.count_nonzero(below) != above.size - start
    if tie:
        side = _last_side((fast - slow)[np.newaxis, :])[0]  # a tie, or NaN beyond warm-up
        start = int(np.argmax(side != 0)) if side.any() else side.size
    elif p.long_only:  # below the cross is flat: the side is ``above``
        side = above.view(np.int8)
    else:
        side = above.view(np.int8) - below.view(np.int8)
    if p.wait_for_cross:
        known = side[start:]
        changed = known[1:] != known[:-1]  # no 0 after the start: any change is a cross
        cross = int(np.argmax(changed)) if changed.any() else known.size
        side[: start + cross + 1] = 0
    if p.long_only and tie:
        np.maximum(side, 0, out=side)
    return side


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
