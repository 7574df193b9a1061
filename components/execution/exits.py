"""The one exit model: stop-loss, take-profit and trailing stop, for every account.

The backtester (:mod:`components.backtest.simulation`), the paper broker and the shadow
accounts (:class:`~components.execution.broker.PaperBroker`) all decide exits here, so a
backtest and paper trading exit the same way::

    levels = entry_levels(+1, entry_price=100.0, atr=2.0, rules=rules)
    path = exit_along(+1, levels, open_=o, high=h, low=l, atr=a, rules=rules,
                      cost_model=costs)   # path.bar, path.decision, path.levels (trailed)

Rules, per bar of an open position (the entry bar included: the entry fills at the open,
the rest of the bar comes after it):

- The **stop** in force is the tighter of the stop-loss and the trailing stop. A bar whose
  range reaches it closes the position there, or at the open if the bar gapped through it,
  plus spread and slippage (a triggered stop is a market order) when ``slip_stops``.
- The **take-profit** closes the position at the target, or at the better open (a resting
  limit: no slippage).
- A bar that reaches **both** takes the stop (the cautious reading: the path inside a bar
  is unknown).
- The **trailing stop** follows the best price: after each bar it moves to
  ``high - trailing_atr * atr`` for a long (``low + ...`` for a short) when that is tighter,
  never back. It moves after the bar, so it never fires on the bar that moved it.
- Levels at entry: ``stop_loss_atr`` and ``take_profit_atr`` ATRs from the fill price
  (the ATR known at the fill: through the bar before the entry bar, whose range is still
  to come), unless the order gave its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from components.execution.costs import CostModel, stop_exit_price, take_profit_exit_price


class ExitReason(StrEnum):
    """Why an exit fired."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"


class ExitRules(BaseModel):
    """The exit knobs every account shares; ``None`` turns a rule off.

    >>> ExitRules(stop_loss_atr=2.0, take_profit_atr=3.0, trailing_atr=1.5)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_loss_atr: float | None = Field(2.0, gt=0, le=50, description="Stop, in ATRs.")
    take_profit_atr: float | None = Field(3.0, gt=0, le=100, description="Target, in ATRs.")
    trailing_atr: float | None = Field(
        None, gt=0, le=50, description="Trailing stop distance, in ATRs (off by default)."
    )
    slip_stops: bool = Field(True, description="Stops pay spread and slippage.")


@dataclass(frozen=True, slots=True)
class ExitLevels:
    """The levels of one open position; ``None`` where a rule is off."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """An exit that fires on a bar: why, and the fill price (costs included)."""

    reason: ExitReason
    price: float


def entry_levels(
    sign: int,
    *,
    entry_price: float,
    atr: float | None,
    rules: ExitRules,
    stop_loss: float | None = None,
    take_profit: float | None = None,
) -> ExitLevels:
    """The levels of a position opened at ``entry_price`` (``sign`` +1 long, -1 short):
    the given ``stop_loss``/``take_profit``, else ATR multiples; a level at or below zero
    means none. Example: ``entry_levels(+1, entry_price=100.0, atr=2.0, rules=ExitRules())``.
    """
    usable = atr is not None and math.isfinite(atr) and atr > 0

    def level(given: float | None, multiple: float | None, direction: int) -> float | None:
        if given is not None:
            return given
        if not usable or multiple is None:
            return None
        value = entry_price + direction * sign * multiple * float(atr)  # type: ignore[arg-type]
        return value if value > 0 else None

    return ExitLevels(
        stop_loss=level(stop_loss, rules.stop_loss_atr, -1),
        take_profit=level(take_profit, rules.take_profit_atr, +1),
    )


@dataclass(frozen=True, slots=True)
class ExitPath:
    """What a run of bars did to a position: the first bar (0-based in the run) where it
    exited and how, or ``None``; and its levels after the run (the trailing stop moved)."""

    bar: int | None
    decision: ExitDecision | None
    levels: ExitLevels


def exit_along(
    sign: int,
    levels: ExitLevels,
    *,
    open_: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    atr: npt.ArrayLike,
    rules: ExitRules,
    cost_model: CostModel,
    spread_bps: float | npt.ArrayLike | None = None,
) -> ExitPath:
    """Run a position with ``levels`` (``sign`` +1 long, -1 short) through consecutive bars
    (module docstring rules), vectorised over the bars. The backtester gives a trade's
    bars at once; the paper broker one bar per call, carrying the levels between calls.

    Example: ``exit_along(+1, levels, open_=o, high=h, low=l, atr=a, rules=r,
    cost_model=c).bar``.
    """
    o, h, lo = (np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (open_, high, low))
    a = np.atleast_1d(np.asarray(atr, dtype=np.float64))
    n = o.size
    worst = -math.inf * sign  # a level that never triggers
    # The trailing stop in force at each bar, and after the last: the tightest of its
    # start and each earlier bar's best price less the distance.
    if rules.trailing_atr is not None:
        candidate = (h if sign > 0 else lo) - sign * rules.trailing_atr * a
        candidate = np.where(np.isfinite(candidate) & (candidate > 0), candidate, worst)
    else:
        candidate = np.full(n, worst)
    start = levels.trailing_stop if levels.trailing_stop is not None else worst
    tighten = np.maximum if sign > 0 else np.minimum
    trailing = tighten.accumulate(np.concatenate(([start], candidate)))
    stop_loss = levels.stop_loss if levels.stop_loss is not None else worst
    stop = tighten(trailing[:n], stop_loss)
    hit_stop = lo <= stop if sign > 0 else h >= stop
    target = levels.take_profit
    if target is None:
        hit_target = np.zeros(n, dtype=np.bool_)
    else:
        hit_target = h >= target if sign > 0 else lo <= target
    hit = hit_stop | hit_target
    if not hit.any():
        moved = float(trailing[n])
        after = replace(levels, trailing_stop=moved if math.isfinite(moved) else None)
        return ExitPath(None, None, after)
    b = int(np.argmax(hit))
    at_b = replace(levels, trailing_stop=float(trailing[b]) if math.isfinite(trailing[b]) else None)
    if hit_stop[b]:  # the stop first: a bar that reached both took it
        reference = float(stop_exit_price(sign, stop[b], open_=o[b], high=h[b], low=lo[b]))
        price = reference
        if rules.slip_stops:
            spreads = (
                np.broadcast_to(np.asarray(spread_bps, dtype=np.float64), (n,))
                if (spread_bps is not None)
                else None
            )
            spread = cost_model.spread_for(None if spreads is None else float(spreads[b]))
            price = float(cost_model.fill_price(-sign, reference, spread_bps=spread))
        tighter = math.isfinite(trailing[b]) and (trailing[b] - stop_loss) * sign > 0
        reason = ExitReason.TRAILING_STOP if tighter else ExitReason.STOP_LOSS
        return ExitPath(b, ExitDecision(reason, price), at_b)
    if target is None:  # without a target only the stop can hit, and it did not
        raise ValueError("exit_along: no stop and no target hit, yet a bar was hit")
    price = float(take_profit_exit_price(sign, target, open_=o[b], high=h[b], low=lo[b]))
    return ExitPath(b, ExitDecision(ExitReason.TAKE_PROFIT, price), at_b)
