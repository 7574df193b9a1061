"""A position an exit closed is not opened again until its strategy's signal changes."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from components.engine.reentry import ExitLatches
from components.execution.models import Fill, FillReason
from components.trading.types import Side

AT = datetime(2026, 3, 2, 9, tzinfo=UTC)


def fill(reason: FillReason, side: Side = Side.SELL, symbol: str = "BTC/USDT") -> Fill:
    return Fill(
        client_order_id=f"p1:{reason.value}",
        symbol=symbol,
        side=side,
        quantity=1.0,
        price=100.0,
        fee=0.1,
        realized_pnl=-5.0,
        filled_at=AT,
        strategy="trend",
        reason=reason,
    )


def test_a_stopped_long_waits_for_its_signal_to_change_even_across_a_relaunch(
    client: redis.Redis, namespace: str
) -> None:
    latches = ExitLatches(client, namespace=namespace)
    latches.remember([fill(FillReason.STOP_LOSS), fill(FillReason.ORDER, symbol="ETH/USDT")])

    relaunched = ExitLatches(client, namespace=namespace)
    assert relaunched.holds("trend", "BTC/USDT", +1)
    assert not relaunched.holds("trend", "BTC/USDT", -1)  # the other side may open
    assert not relaunched.holds("trend", "ETH/USDT", +1)  # an order's fill latches nothing

    relaunched.release(lambda strategy, symbol: +1)  # the signal still long: kept
    assert relaunched.holds("trend", "BTC/USDT", +1)
    relaunched.release(lambda strategy, symbol: 0)  # it left long: released
    assert not relaunched.holds("trend", "BTC/USDT", +1)
    assert not ExitLatches(client, namespace=namespace).holds("trend", "BTC/USDT", +1)


def test_a_latch_of_a_strategy_that_no_longer_trades_the_symbol_is_dropped(
    client: redis.Redis, namespace: str
) -> None:
    latches = ExitLatches(client, namespace=namespace)
    latches.remember([fill(FillReason.TRAILING_STOP, side=Side.BUY)])  # a short, trailed out
    assert latches.holds("trend", "BTC/USDT", -1)

    latches.release(lambda strategy, symbol: None)

    assert not latches.holds("trend", "BTC/USDT", -1)
