"""The paper account as a person reads it: positions marked at the closes the engine's
last cycle marked them at (what ``quantum-trader positions`` and ``GET /api/positions``
both show)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from components.engine.heartbeat import read_heartbeat
from components.execution.ledger import Ledger
from components.execution.models import LedgerState
from components.monitoring import Telemetry

if TYPE_CHECKING:  # pandas comes with a market; reading marks the engine recorded needs none
    from components.market.base import MarketData


def marked_account(
    ledger: Ledger,
    *,
    market: Callable[[], MarketData],
    timeframe: str,
    fills: int = 100,
) -> LedgerState:
    """The ledger valued at the closes the engine recorded in its last cycle; a position it
    has not marked yet (opened by hand, or before the engine's first cycle) is marked at its
    last close up to the engine's last market time, read from ``market()`` (called only
    then: opening a market can be slow).

    Example: ``marked_account(ledger, market=lambda: open_market(config), timeframe="5m")``.
    """
    positions = ledger.positions()
    recorded = (
        Telemetry(ledger.client, namespace=ledger.namespace).last_marks() if positions else {}
    )
    marks = {symbol: recorded[symbol] for symbol in positions if symbol in recorded}
    missing = [symbol for symbol in positions if symbol not in marks]
    if missing:
        heartbeat = read_heartbeat(ledger.client, ledger.namespace)
        end = heartbeat["market_at"] if heartbeat else None
        source = market()
        for symbol in missing:
            bars = source.bars(symbol, timeframe, limit=1, end=end)
            if not bars.empty:
                marks[symbol] = float(bars["close"].iloc[-1])
    return ledger.state(marks, fills=fills)
