"""The records of execution: orders, acknowledgements, fills, positions and ledger state.

All are frozen pydantic models. Quantities are in base units; a position's ``quantity``
is signed (a short is negative), an order's and a fill's are positive with ``side``
giving the direction. Money is in the quote currency (USDT).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from components.recomputed import Recomputed
from components.trading.types import (
    OrderIntent,
    OrderType,
    PortfolioView,
    PositionView,
    Side,
)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FillReason(StrEnum):
    """Why a fill happened: an order, or a position's stop-loss, take-profit or trailing
    stop (:mod:`components.execution.exits`)."""

    ORDER = "order"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"


class Order(_Record):
    """An accepted order waiting for a bar that may fill it.

    A bar with open time ``at`` may fill it only when ``at > eligible_after``: the bar
    is newer than every bar the broker had processed for the symbol when the order was
    submitted, and had not closed before the order was created. ``seq`` orders the open
    orders of the ledger by submission.
    """

    client_order_id: str = Field(min_length=1, max_length=128)
    symbol: str = Field(min_length=1)
    side: Side
    quantity: float = Field(gt=0)
    type: OrderType = OrderType.MARKET
    limit_price: float | None = Field(None, gt=0)
    strategy: str | None = None
    reduce_only: bool = False
    stop_loss: float | None = Field(None, gt=0)
    take_profit: float | None = Field(None, gt=0)
    created_at: datetime
    eligible_after: datetime
    seq: int = Field(0, ge=0)
    correlation_id: str | None = Field(None, max_length=256)

    @classmethod
    def from_intent(cls, intent: OrderIntent, *, eligible_after: datetime) -> Order:
        """The order an accepted ``intent`` becomes.

        Example: ``Order.from_intent(intent, eligible_after=intent.created_at)``.
        """
        return cls(
            client_order_id=intent.client_order_id,
            symbol=intent.symbol,
            side=intent.side,
            quantity=intent.quantity,
            type=intent.type,
            limit_price=intent.limit_price,
            strategy=intent.strategy,
            reduce_only=intent.reduce_only,
            stop_loss=intent.stop_loss,
            take_profit=intent.take_profit,
            created_at=intent.created_at,
            eligible_after=eligible_after,
            correlation_id=intent.correlation_id,
        )

    def may_fill_on(self, at: datetime) -> bool:
        """Whether the bar opening at ``at`` may fill this order (see the class docstring)."""
        return at > self.eligible_after


class OrderAck(_Record):
    """The broker's answer to a submit: accepted or not (with the reason), and whether the
    client order id had been seen before (then nothing new was placed)."""

    client_order_id: str
    accepted: bool
    duplicate: bool = False
    reason: str = ""


class Fill(_Record):
    """One execution. ``realized_pnl`` is the PnL this fill realised, net of its own fee:
    ``closed_quantity * (price - average_price) * position_sign - fee`` (``-fee`` for a fill
    that only opens or adds)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    price: float = Field(gt=0)
    fee: float = Field(ge=0)
    realized_pnl: float
    filled_at: datetime
    strategy: str | None = None
    position_id: str = ""
    reason: FillReason = FillReason.ORDER

    @property
    def signed_quantity(self) -> float:
        return self.side.sign * self.quantity

    @property
    def notional(self) -> float:
        return self.quantity * self.price


class FillResult(_Record):
    """What :meth:`Ledger.apply_fill` did: ``filled`` (a new fill), ``duplicate`` (the id
    was filled before; ``fill`` is that fill) or ``skipped`` (nothing changed: ``reason``
    says why, e.g. the order was cancelled or a reduce-only order would grow exposure).
    After a new fill, ``position`` is the symbol's position as the fill left it (None:
    flat); otherwise it is None and says nothing."""

    status: Literal["filled", "duplicate", "skipped"]
    fill: Fill | None = None
    reason: str = ""
    position: Position | None = None


class Position(_Record):
    """An open position. ``id`` is the client order id of the fill that opened it, so
    exits derived from it (``f"{id}:sl"``) are deterministic. ``realized_pnl`` and
    ``fees`` add up every fill of this position's life (entry fees included)."""

    id: str
    symbol: str
    quantity: float
    average_price: float = Field(gt=0)
    realized_pnl: float = 0.0
    fees: float = Field(0.0, ge=0)
    stop_loss: float | None = Field(None, gt=0)
    take_profit: float | None = Field(None, gt=0)
    strategy: str | None = None
    opened_at: datetime
    updated_at: datetime

    @property
    def sign(self) -> int:
        """``+1`` for a long, ``-1`` for a short."""
        return 1 if self.quantity > 0 else -1

    def market_value(self, mark: float) -> float:
        return self.quantity * mark

    def unrealized_pnl(self, mark: float) -> float:
        return self.quantity * (mark - self.average_price)

    def view(self, mark: float) -> PositionView:
        """The shared :class:`PositionView` of this position at ``mark``."""
        return PositionView(
            symbol=self.symbol,
            quantity=self.quantity,
            average_price=self.average_price,
            mark_price=mark,
            strategy=self.strategy,
        )


class ClosedPosition(_Record):
    """A position's life once it is closed: what it earned net of every fee."""

    id: str
    symbol: str
    direction: Literal["long", "short"]
    average_price: float = Field(gt=0)
    exit_price: float = Field(gt=0)
    realized_pnl: float
    fees: float = Field(ge=0)
    strategy: str | None = None
    opened_at: datetime
    closed_at: datetime
    exit_order_id: str


class LedgerState(_Record, Recomputed):
    """Everything the ledger holds at one moment, valued at ``marks``.

    ``equity = cash + sum(quantity * mark)``, which also equals
    ``initial_cash + realized_pnl + unrealized_pnl``. A position without a mark is valued
    at its average price and listed in ``unmarked``.
    """

    cash: float
    initial_cash: float
    realized_pnl: float
    fees_paid: float
    positions: dict[str, Position] = Field(default_factory=dict)
    marks: dict[str, float] = Field(default_factory=dict)
    open_orders: list[Order] = Field(default_factory=list)
    fills: list[Fill] = Field(default_factory=list)
    unmarked: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def market_value(self) -> float:
        return sum(p.market_value(self.marks[s]) for s, p in self.positions.items())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unrealized_pnl(self) -> float:
        return sum(p.unrealized_pnl(self.marks[s]) for s, p in self.positions.items())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def equity(self) -> float:
        return self.cash + self.market_value

    def portfolio_view(self) -> PortfolioView:
        """The shared :class:`PortfolioView` (what the RiskGuard reads)."""
        return PortfolioView(
            cash=self.cash,
            positions={s: p.view(self.marks[s]) for s, p in self.positions.items()},
            open_orders=len(self.open_orders),
        )
