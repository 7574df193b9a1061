"""A paper account that has really traded: the engine run for some cycles on the synthetic
market under a manual clock (so the same marks come back every time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from components.engine import TradingEngine, build_engine
from components.events import RedisEventBus
from components.market import ManualClock, MarketData, open_market
from components.policy import PolicyStore
from components.settings import Settings
from tests.builders import T0

START = T0.replace(month=3, day=2)


@dataclass
class TradedAccount:
    clock: ManualClock
    market: MarketData
    engine: TradingEngine


def traded_account(settings: Settings, *, cycles: int = 20, symbols: int = 8) -> TradedAccount:
    """Run the engine ``cycles`` 5-minute cycles on ``symbols`` symbols; the account then
    holds fills and, usually, open positions. The clock stays where the engine stopped."""
    clock = ManualClock(START)
    market = open_market(settings.market, clock=clock)
    PolicyStore.connect(settings).patch(
        {"active_universe": market.symbols()[:symbols], "global_min_confidence": 0.5},
        by="tests",
        reason="let the engine trade",
    )
    engine = build_engine(settings, market, bus=RedisEventBus.connect(settings))
    for cycle in range(cycles):
        engine.run_cycle(cycle)
        clock.advance(timedelta(minutes=5))
    return TradedAccount(clock, market, engine)
