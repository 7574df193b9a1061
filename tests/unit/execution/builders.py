"""Builders the execution tests share: order intents, bars one hour apart, and the
``trade.executed`` events on the stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from components.events import Event, RedisEventBus
from components.execution import Bar
from components.trading.types import OrderIntent, OrderType, Side

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
SYMBOL = "BTC/USDT"


def bar_at(i: int) -> datetime:
    """Open time of bar ``i`` (bar 0 opens at ``T0``)."""
    return T0 + i * HOUR


def make_bar(
    open_: float, high: float | None = None, low: float | None = None, close: float | None = None
) -> Bar:
    """A bar that opens at ``open_``; high and low default to +-1% around open and close."""
    close = open_ if close is None else close
    high = max(open_, close) * 1.01 if high is None else high
    low = min(open_, close) * 0.99 if low is None else low
    return Bar(open=open_, high=high, low=low, close=close)


def make_intent(
    coid: str = "o1",
    side: Side = Side.BUY,
    quantity: float = 1.0,
    *,
    symbol: str = SYMBOL,
    created_at: datetime | None = None,
    **kwargs: Any,
) -> OrderIntent:
    """A valid intent; market by default, created at the open of bar 1 (the close of bar 0)."""
    values: dict[str, Any] = {"reference_price": 100.0, "strategy": "momentum"}
    values.update(kwargs)
    if values.get("limit_price") is not None:
        values.setdefault("type", OrderType.LIMIT)
    return OrderIntent(
        client_order_id=coid,
        symbol=symbol,
        side=side,
        quantity=quantity,
        created_at=created_at or bar_at(1),
        **values,
    )


def trade_events(client: redis.Redis, namespace: str, count: int = 1000) -> list[Event]:
    """The ``trade.executed`` events on the stream, oldest first."""
    return RedisEventBus(client, namespace=namespace).tail("trade.executed", count=count)


def trade_ids(client: redis.Redis, namespace: str) -> list[str]:
    """The client order ids of the ``trade.executed`` events, oldest first."""
    payloads: list[Any] = [e.payload for e in trade_events(client, namespace, 10_000)]
    return [p.client_order_id for p in payloads]
