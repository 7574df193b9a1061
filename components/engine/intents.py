"""From accepted signals to order intents: what the real account and every shadow account
would order, sized by the Trading Mathematician.

The engine and the :class:`~components.engine.shadow.ShadowBook` both hold one
:class:`IntentPlanner`, so a shadow strategy is sized and stamped exactly as it would be live.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from components.policy.model import GlobalPolicy
from components.sizing import PositionSizer, SizeOutcome
from components.trading.types import OrderIntent, PortfolioView, Side, Signal

log = logging.getLogger(__name__)

PlannedIntent = tuple[OrderIntent, float | None]
"""An order intent with the stop distance it was sized for (None for closes)."""

ALREADY_POSITIONED = "already positioned"
NO_SHORTS = "short not allowed (QT_ENGINE_ALLOW_SHORT=false)"
BELOW_MIN_NOTIONAL = "sized below the minimum notional"


@dataclass(frozen=True)
class Plan:
    """The intents for a cycle's accepted signals, and why the others make no order
    (``unplaced``: one ``(signal, reason)`` each)."""

    intents: list[PlannedIntent] = field(default_factory=list)
    unplaced: list[tuple[Signal, str]] = field(default_factory=list)


class IntentPlanner:
    """Order intents for accepted signals (see the module docstring).

    >>> planner = IntentPlanner(PositionSizer(SizingConfig()), allow_short=False)
    >>> planner.plan(signals, portfolio, policy, now)
    """

    def __init__(self, sizer: PositionSizer, *, allow_short: bool = False) -> None:
        self.sizer = sizer
        self.allow_short = allow_short

    def opens(self, direction: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.bool_]:
        """Which accepted signals on symbols with no position (their directions, as an
        array) :meth:`plan_all` would size into an entry: the array form of its rule on
        shorts (a short it does not open is unplaced as ``NO_SHORTS``).

        >>> IntentPlanner(sizer, allow_short=False).opens(np.array([1, -1]))  # [True, False]
        """
        return np.asarray(direction != 0 if self.allow_short else direction > 0)

    def plan(
        self,
        signals: list[Signal],
        portfolio: PortfolioView,
        policy: GlobalPolicy,
        now: datetime,
    ) -> list[PlannedIntent]:
        """Order intents (with their stop distance) for the accepted signals, in their
        order; every entry is sized in one vectorised pass."""
        return self.plan_all(signals, portfolio, policy, now).intents

    def plan_all(
        self,
        signals: list[Signal],
        portfolio: PortfolioView,
        policy: GlobalPolicy,
        now: datetime,
    ) -> Plan:
        """:meth:`plan`, with the reason of each signal that makes no intent."""
        plan: list[tuple[Signal, str, int, float]] = []  # signal, stamp, direction, held
        unplaced: list[tuple[Signal, str]] = []
        for signal in signals:
            held = portfolio.positions.get(signal.symbol)
            quantity = held.quantity if held is not None else 0.0
            wanted = signal.direction if (signal.direction >= 0 or self.allow_short) else 0
            stamp = signal.id
            if quantity and (wanted == 0 or math.copysign(1, quantity) != wanted):
                plan.append((signal, stamp, 0, quantity))  # close; re-enter on a later bar
            elif not quantity and wanted != 0:
                plan.append((signal, stamp, wanted, 0.0))  # open
            elif quantity:
                unplaced.append((signal, ALREADY_POSITIONED))
            elif signal.direction < 0:
                unplaced.append((signal, NO_SHORTS))
        entries = [(signal, wanted) for signal, _, wanted, _ in plan if wanted]
        sizes = iter(
            self.sizer.size_many(
                equity=portfolio.equity,
                price=[signal.price for signal, _ in entries],
                atr=[signal.atr or 0.0 for signal, _ in entries],
                confidence=[signal.confidence for signal, _ in entries],
                max_risk_per_trade=policy.max_risk_per_trade,
                direction=[wanted for _, wanted in entries],
            )
        )
        intents: list[PlannedIntent] = []
        for signal, stamp, wanted, quantity in plan:
            if not wanted:
                side = Side.SELL if quantity > 0 else Side.BUY
                close = _intent(f"{stamp}:close", signal, side, abs(quantity), reduce_only=True)
                intents.append((close, None))
                continue
            size = next(sizes)
            if size.is_zero:
                log.info("%s %s: no size (%s)", signal.strategy, signal.symbol, size.reason)
                unplaced.append((signal, _zero_size(size.outcome)))
                continue
            side = Side.BUY if wanted > 0 else Side.SELL
            intent = _intent(
                f"{stamp}:open", signal, side, size.quantity, stop_loss=size.stop_price
            )
            intents.append((intent, size.stop_distance))
        return Plan(intents, unplaced)


def _zero_size(outcome: SizeOutcome) -> str:
    if outcome is SizeOutcome.BELOW_MIN_NOTIONAL:
        return BELOW_MIN_NOTIONAL
    return f"sized to zero ({outcome.value.replace('_', ' ')})"


def _intent(
    client_order_id: str,
    signal: Signal,
    side: Side,
    quantity: float,
    *,
    reduce_only: bool = False,
    stop_loss: float | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id,
        symbol=signal.symbol,
        side=side,
        quantity=quantity,
        reference_price=signal.price,
        strategy=signal.strategy,
        reduce_only=reduce_only,
        stop_loss=stop_loss,
        created_at=signal.at,
        correlation_id=signal.id,
    )
