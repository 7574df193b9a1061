"""Events the analytics tests feed in: fills, rejections, ESS moves, policy writes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from components.events import Event

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def trade(
    pnl: float,
    *,
    fee: float = 0.0,
    strategy: str | None = "momentum",
    at: datetime = T0,
    coid: str | None = None,
    symbol: str = "BTC/USDT",
    side: str = "sell",
    quantity: float = 0.05,
    price: float = 43_000.0,
) -> Event:
    """A ``trade.executed`` event. ``pnl`` is the fill's net realised PnL (the ledger's
    convention: an opening fill has ``pnl == -fee``)."""
    return Event.create(
        "trade.executed",
        {
            "client_order_id": coid or f"o-{uuid.uuid4().hex[:10]}",
            "symbol": symbol,
            "side": side,
            "quantity": quantity,
            "price": price,
            "fee": fee,
            "strategy": strategy,
            "realized_pnl": pnl,
            "filled_at": at,
        },
        source="paper-broker",
        occurred_at=at,
    )


def opening(fee: float, **kwargs: Any) -> Event:
    """A fill that opens or adds: it realises only its fee."""
    return trade(-fee, fee=fee, side="buy", **kwargs)


def rejection(check: str | None, reason: str = "too big", *, at: datetime = T0) -> Event:
    return Event.create(
        "order.rejected",
        {"client_order_id": f"r-{uuid.uuid4().hex[:10]}", "symbol": "ETH/USDT", "side": "buy",
         "quantity": 1.0, "reason": reason, "check": check, "strategy": "breakout"},
        source="risk-guard",
        occurred_at=at,
    )  # fmt: skip


def ess(state: str, previous: str | None, *, reason: str = "drawdown", at: datetime = T0) -> Event:
    return Event.create(
        "ess.state_changed",
        {"state": state, "previous": previous, "reason": reason, "by": "emergency_stop"},
        source="emergency_stop",
        occurred_at=at,
    )


def policy_write(
    version: int, *, at: datetime, by: str = "msc-evaluation", **changes: Any
) -> Event:
    return Event.create(
        "policy.updated",
        {"version": version, "previous_version": version - 1, "by": by, "reason": "test",
         "changes": {k.replace("__", "."): {"old": None, "new": v} for k, v in changes.items()}},
        source=by,
        occurred_at=at,
    )  # fmt: skip


def promotion(model: str, version: str, *, at: datetime = T0) -> Event:
    return Event.create(
        "model.promoted", {"model": model, "version": version}, source="clm", occurred_at=at
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
