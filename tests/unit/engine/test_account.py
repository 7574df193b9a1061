"""The account as a person reads it: marked at the closes the engine's last cycle used."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from components.engine import marked_account
from components.market import MarketData
from components.monitoring import Telemetry
from components.settings import Settings
from components.trading.types import Side
from tests.accounts import traded_account


def no_market() -> MarketData:
    raise AssertionError("the marks the engine recorded should do")


def test_positions_are_marked_at_the_engines_last_closes_without_a_market(
    settings: Settings,
) -> None:
    account = traded_account(settings)
    ledger = account.engine.ledger
    recorded = Telemetry(ledger.client, namespace=settings.namespace).last_marks()

    state = marked_account(ledger, market=no_market, timeframe="5m")

    assert state.positions and state.unmarked == []
    assert state.marks == {symbol: recorded[symbol] for symbol in state.positions}
    last_cycle = account.engine.ledger.snapshot(state.marks)
    assert state.equity == pytest.approx(last_cycle.equity)


def test_a_position_the_engine_never_marked_is_marked_from_the_market(
    settings: Settings,
) -> None:
    account = traded_account(settings)
    ledger = account.engine.ledger
    symbol = account.market.symbols()[-1]  # outside the traded universe: never marked
    assert symbol not in Telemetry(ledger.client, namespace=settings.namespace).last_marks()
    ledger.apply_fill(
        client_order_id="by-hand", symbol=symbol, side=Side.BUY, quantity=1.0, price=1.0,
        fee=0.0, filled_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
    )  # fmt: skip
    opened: list[bool] = []

    def market() -> MarketData:
        opened.append(True)
        return account.market

    state = marked_account(ledger, market=market, timeframe="5m")

    assert opened == [True]
    assert symbol in state.marks and state.unmarked == []
