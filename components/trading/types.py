"""Shared trading types; see the package docstring."""

from __future__ import annotations

from datetime import datetime, tzinfo
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class Signal(BaseModel):
    """What one strategy wants for one symbol at one bar: a direction (+1 long, -1 short,
    0 flat) and a confidence in [0, 1]. ``at`` is the close time of the bar it was
    computed on; it may be acted on no earlier than the next bar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str
    symbol: str
    direction: int = Field(ge=-1, le=1)
    confidence: float = Field(ge=0, le=1)
    at: datetime
    price: float = Field(gt=0, description="The close of the signal bar (a reference, not a fill).")
    atr: float | None = Field(
        None, ge=0, description="ATR at the signal bar, for stops and sizing."
    )

    @property
    def id(self) -> str:
        """The signal's name, its strategy, symbol and bar (``"trend:BTC/USDT:20260302T0005"``):
        the correlation id of the orders and events it causes."""
        return f"{self.strategy}:{self.symbol}:{_minute_stamp(self.at)}"


class OrderIntent(BaseModel):
    """An order someone wants placed; the broker fills it no earlier than the next bar.

    ``client_order_id`` is deterministic for a decision (e.g. derived from strategy,
    symbol and signal bar), so a restart that re-derives it cannot place it twice.
    ``quantity`` is in base units, always positive; ``side`` gives the direction.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str = Field(min_length=1, max_length=128)
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    type: OrderType = OrderType.MARKET
    limit_price: float | None = Field(None, gt=0)
    reference_price: float = Field(gt=0, description="Price used for notional checks.")
    strategy: str | None = None
    reduce_only: bool = False
    stop_loss: float | None = Field(None, gt=0)
    take_profit: float | None = Field(None, gt=0)
    created_at: datetime
    correlation_id: str | None = Field(
        None, max_length=256, description="What caused the order (a signal's id)."
    )

    @property
    def signed_quantity(self) -> float:
        return self.side.sign * self.quantity

    @property
    def notional(self) -> float:
        return self.quantity * self.reference_price


class PositionView(BaseModel):
    """One open position as the risk checks see it. ``quantity`` is signed (short < 0)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    quantity: float
    average_price: float = Field(gt=0)
    mark_price: float = Field(gt=0)
    strategy: str | None = None

    @property
    def market_value(self) -> float:
        return self.quantity * self.mark_price

    @property
    def unrealized_pnl(self) -> float:
        return self.quantity * (self.mark_price - self.average_price)


class PortfolioView(BaseModel):
    """Cash, positions and equity at one moment (equity = cash + sum of market values)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cash: float
    positions: dict[str, PositionView] = Field(default_factory=dict)
    open_orders: int = Field(0, ge=0)

    @property
    def equity(self) -> float:
        return self.cash + sum(p.market_value for p in self.positions.values())

    @property
    def gross_exposure(self) -> float:
        return sum(abs(p.market_value) for p in self.positions.values())

    @property
    def net_exposure(self) -> float:
        return sum(p.market_value for p in self.positions.values())


def _minute_stamp(at: datetime) -> str:
    """``at`` as ``20260302T0005``: a cycle's signals share their bar, so it is formatted
    once (keyed with its zone too: times of one instant in two zones are equal)."""
    return _formatted_minute(at, at.tzinfo)


@lru_cache(maxsize=256)
def _formatted_minute(at: datetime, zone: tzinfo | None) -> str:
    return f"{at:%Y%m%dT%H%M}"
