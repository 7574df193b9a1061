"""The paper account as a person reads it: positions marked at the last close the engine
traded on (what ``quantum-trader positions`` and ``GET /api/positions`` both show)."""

from __future__ import annotations

from collections.abc import Callable

from components.engine.engine import read_heartbeat
from components.execution import Ledger, LedgerState
from components.market.base import MarketData


def marked_account(
    ledger: Ledger,
    *,
    market: Callable[[], MarketData],
    timeframe: str,
    fills: int = 100,
) -> LedgerState:
    """The ledger valued at each open position's last close up to the engine's last cycle
    (its market time), so the figures match what the engine saw. ``market`` is called only
    when there is a position to mark (opening a market can be slow).

    Example: ``marked_account(ledger, market=lambda: open_market(config), timeframe="5m")``.
    """
    positions = ledger.positions()
    marks: dict[str, float] = {}
    if positions:
        heartbeat = read_heartbeat(ledger.client, ledger.namespace)
        end = heartbeat["market_at"] if heartbeat else None
        source = market()
        for symbol in positions:
            bars = source.bars(symbol, timeframe, limit=1, end=end)
            if not bars.empty:
                marks[symbol] = float(bars["close"].iloc[-1])
    return ledger.state(marks, fills=fills)
