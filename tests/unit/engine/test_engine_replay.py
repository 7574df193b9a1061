"""Replays of two engines side by side on one market, on two namespaces.

- 500 symbols: the engine's incremental cycle trades exactly as the full recomputation.
  One engine runs as it runs live (market windows grown bar by bar, signals updated by
  the new bars only), the other recomputes everything every cycle (the market read one
  DataFrame per symbol, every signal computed over every bar since its first cycle).
  Their paper trades must be the same, fill by fill.
- Fills at the forming bar's open, as soon as the market knows it, are the fills the
  same engine makes when that bar closes, only seen a bar sooner.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import redis

from components.engine import EngineConfig, TradingEngine, build_engine
from components.execution import Fill, FillReason
from components.market import ManualClock, SyntheticMarket, Ticker, default_symbols
from components.policy import PolicyStore
from components.redis import delete_namespace
from components.settings import Settings
from tests.builders import T0

START = T0.replace(month=3, day=2, hour=9)
SYMBOLS = 500
STEPS = [1, 1, 2, 1, 1, 1, 3, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1]  # 5-minute bars per cycle


class FramesOnly:
    """The synthetic market seen only through ``bars_many`` (one DataFrame per symbol),
    as any other source: the engine reads it through the default, frame-by-frame path."""

    def __init__(self, market: SyntheticMarket) -> None:
        self._market = market

    def symbols(self) -> list[str]:
        return self._market.symbols()

    def now(self) -> datetime:
        return self._market.now()

    def bars(self, symbol: str, timeframe: str = "1h", **kwargs: Any) -> pd.DataFrame:
        return self._market.bars(symbol, timeframe, **kwargs)

    def bars_many(
        self, symbols: Iterable[str], timeframe: str = "1h", **kwargs: Any
    ) -> dict[str, pd.DataFrame]:
        return self._market.bars_many(symbols, timeframe, **kwargs)

    def ticker(self, symbol: str, **kwargs: Any) -> Ticker:
        return self._market.ticker(symbol, **kwargs)


class FramesAndOpens(FramesOnly):
    """:class:`FramesOnly` that also tells the open of the bar forming now."""

    def bar_opens(self, symbols: Iterable[str], timeframe: str, at: datetime) -> dict[str, float]:
        return self._market.bar_opens(symbols, timeframe, at)


@pytest.fixture
def reference(settings: Settings, client: redis.Redis) -> Iterator[Settings]:
    """A second namespace for the reference engine, deleted afterwards."""
    other = settings.model_copy(update={"namespace": f"test-{uuid.uuid4().hex[:12]}"})
    yield other
    delete_namespace(client, other.namespace)


def engine_on(settings: Settings, market: Any, *, incremental: bool) -> TradingEngine:
    PolicyStore.connect(settings).patch(
        {"active_universe": market.symbols(), "global_min_confidence": 0.5, "max_positions": 40},
        by="tests",
        reason="trade the whole universe",
    )
    engine = build_engine(settings, market)
    engine.config = EngineConfig(**{**engine.config.model_dump(), "incremental": incremental})
    return engine


def test_a_500_symbol_replay_trades_exactly_as_the_full_recomputation(
    settings: Settings, reference: Settings
) -> None:
    clock = ManualClock(START)
    names = default_symbols(SYMBOLS)
    live = engine_on(
        settings, SyntheticMarket(seed=5, symbols=names, clock=clock), incremental=True
    )
    full = engine_on(
        reference,
        FramesAndOpens(SyntheticMarket(seed=5, symbols=names, clock=clock)),
        incremental=False,
    )

    for cycle, step in enumerate(STEPS):
        fast, slow = live.run_cycle(cycle), full.run_cycle(cycle)
        assert (fast.signals, fast.accepted, fast.fills) == (
            slow.signals,
            slow.accepted,
            slow.fills,
        )
        clock.advance(timedelta(minutes=5 * step))

    trades = [f.model_dump() for f in live.ledger.fills()]
    assert len(trades) >= 20, "the replay should trade enough to compare"
    assert trades == [f.model_dump() for f in full.ledger.fills()]
    assert live.ledger.snapshot() == full.ledger.snapshot()


def test_orders_fill_at_the_forming_bars_open_in_the_cycle_that_placed_them(
    settings: Settings, reference: Settings
) -> None:
    clock = ManualClock(START + timedelta(minutes=1))  # mid-bar, as live
    names = default_symbols(60)
    at_open = engine_on(
        settings, SyntheticMarket(seed=5, symbols=names, clock=clock), incremental=True
    )
    at_close = engine_on(  # no bar_opens: orders fill when their bar closes
        reference, FramesOnly(SyntheticMarket(seed=5, symbols=names, clock=clock)), incremental=True
    )
    opened = 0
    for cycle in range(24):  # one cycle a bar, as the backtester sees them
        placed = [o for o in at_open.run_cycle(cycle).orders if o.outcome == "submitted"]
        at_close.run_cycle(cycle)
        assert at_open.ledger.open_orders() == []  # every order placed is filled at once
        opened += len(placed)
        clock.advance(timedelta(minutes=5))
    assert opened >= 5, "the replay should place enough orders to compare"

    # The same fills; within a bar, the close books a symbol's entry beside the exits of
    # other symbols that the open booked a cycle before them, so the equity an entry is
    # sized on adds the same amounts in another order (its last bits may differ).
    forming = START + timedelta(minutes=5 * 23)  # the last cycle's fills are at its open
    early = sorted(
        (f for f in at_open.ledger.fills(limit=None) if f.filled_at < forming), key=_fill_key
    )
    late = sorted(at_close.ledger.fills(limit=None), key=_fill_key)
    amounts = ("quantity", "fee", "realized_pnl")
    assert [f.model_dump(exclude=set(amounts)) for f in early] == [
        f.model_dump(exclude=set(amounts)) for f in late
    ]
    for name in amounts:
        assert [getattr(f, name) for f in early] == pytest.approx(
            [getattr(f, name) for f in late], rel=1e-9
        )


def test_a_second_cycle_in_the_bar_of_a_fill_never_exits_on_the_bar_before(
    settings: Settings,
) -> None:
    clock = ManualClock(START + timedelta(minutes=1))
    engine = engine_on(
        settings,
        SyntheticMarket(seed=5, symbols=default_symbols(60), clock=clock),
        incremental=True,
    )
    for cycle in range(48):  # two cycles a bar: the second sees the same closed bars
        engine.run_cycle(cycle)
        clock.advance(timedelta(minutes=2, seconds=30))

    fills = engine.ledger.fills(limit=None)
    opened = {f.position_id: f.filled_at for f in fills if f.client_order_id == f.position_id}
    exits = [f for f in fills if f.reason is not FillReason.ORDER]
    assert len(exits) >= 3, "the replay should see exits"
    assert [f for f in exits if f.filled_at < opened[f.position_id]] == []


def _fill_key(fill: Fill) -> tuple[Any, ...]:
    return (fill.filled_at, fill.client_order_id)
