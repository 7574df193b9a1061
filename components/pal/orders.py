"""PAL for a live account: each cycle, the layer's decision for every open position as
orders (an add, a partial profit) and stop moves, by mode.

    manager = PalManager(PalConfig(mode="ENFORCED"), PalBook(client, namespace="qt"))
    plan = manager.plan(positions, marks, atrs, risk_mode=policy.risk_mode, now=now)
    plan.intents   # (OrderIntent, stop distance): through the RiskGuard like any order
    plan.stops     # symbol -> (position id, new stop): for Ledger.set_stops

OFF (or the DEFENSIVE risk mode) decides nothing; OBSERVE decides, says what it would do
(``plan.observed``, one line per action) and returns no order and no stop; ENFORCED
returns both. Client order ids derive from the position and the action's count
(``<position id>:pal:add:1``, ``<position id>:pal:partial:2``), so a restarted engine that
decides again places nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from components.config import ModuleMode
from components.execution.models import Position
from components.pal.book import PalBook
from components.pal.config import PAL_ORDER_MARK, PalConfig
from components.pal.layer import PalState, amplify, effective_mode
from components.policy.model import RiskMode
from components.trading.types import OrderIntent, Side


@dataclass(frozen=True)
class PalPlan:
    """One cycle of PAL: the mode it ran in, orders with their stop distance, stop moves,
    and what OBSERVE would have done."""

    mode: ModuleMode
    intents: list[tuple[OrderIntent, float | None]] = field(default_factory=list)
    stops: dict[str, tuple[str, float]] = field(default_factory=dict)
    observed: list[str] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return len(self.intents) + len(self.stops) + len(self.observed)


class PalManager:
    """PAL's decisions for a live account (see the module docstring)."""

    def __init__(self, config: PalConfig, book: PalBook) -> None:
        self.config = config
        self.book = book

    def plan(
        self,
        positions: Mapping[str, Position],
        marks: Mapping[str, float],
        atrs: Mapping[str, float | None],
        *,
        risk_mode: RiskMode | str | None,
        now: datetime,
    ) -> PalPlan:
        """PAL's orders and stop moves for ``positions`` at their ``marks`` (the closes of
        the bar just closed) and ATRs."""
        mode = effective_mode(self.config.mode, risk_mode)
        plan = PalPlan(mode)
        if mode is ModuleMode.OFF:
            return plan
        self.book.keep_only(p.id for p in positions.values())
        for symbol, position in sorted(positions.items()):
            mark = marks.get(symbol)
            if mark is None:
                continue
            state = self.book.get(position.id) or PalState.open(
                side=position.sign,
                entry=position.average_price,
                stop=position.stop_loss,
                quantity=position.quantity,
            )
            if state is None:  # no stop, no R
                continue
            decision = amplify(
                state,
                quantity=position.quantity,
                close=mark,
                atr=atrs.get(symbol),
                stop=position.stop_loss,
                config=self.config,
            )
            self.book.put(position.id, decision.state)
            if not decision.acts:
                continue
            if mode is ModuleMode.OBSERVE:
                plan.observed.extend(f"{symbol} {position.id}: {r}" for r in decision.reasons)
                continue
            after = decision.state
            if decision.stop is not None:
                plan.stops[symbol] = (position.id, decision.stop)
            if decision.reduce > 0:
                plan.intents.append(
                    (
                        _order(
                            position, f"partial:{after.partials}", -1, decision.reduce, mark, now
                        ),
                        None,
                    )
                )
            if decision.add > 0:
                stop = decision.stop or position.stop_loss
                distance = abs(mark - stop) if stop is not None else None
                plan.intents.append(
                    (_order(position, f"add:{after.adds}", +1, decision.add, mark, now), distance)
                )
        return plan


def _order(
    position: Position, action: str, direction: int, quantity: float, mark: float, now: datetime
) -> OrderIntent:
    """An order growing (``direction`` +1) or reducing (-1) ``position``."""
    side = Side.BUY if position.sign * direction > 0 else Side.SELL
    return OrderIntent(
        client_order_id=f"{position.id}{PAL_ORDER_MARK}{action}",
        symbol=position.symbol,
        side=side,
        quantity=quantity,
        reference_price=mark,
        strategy=position.strategy,
        reduce_only=direction < 0,
        created_at=now,
    )
