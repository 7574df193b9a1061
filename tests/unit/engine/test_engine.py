"""The engine's cycle on real Redis: it trades, and it fails the safe way."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from components.engine import TradingEngine, build_engine
from components.errors import TemporaryError
from components.events import RedisEventBus
from components.market import BarBlock, BlockRead, ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.redis import ensure_embedded, stop_embedded
from components.settings import Settings, load_settings
from tests.builders import T0

START = T0.replace(month=3, day=2)


def open_up(settings: Settings, market: SyntheticMarket, symbols: int = 8) -> None:
    """A policy that lets the engine trade the first ``symbols`` symbols."""
    PolicyStore.connect(settings).patch(
        {"active_universe": market.symbols()[:symbols], "global_min_confidence": 0.5},
        by="tests",
        reason="let the engine trade",
    )


def run(engine: TradingEngine, clock: ManualClock, cycles: int, first: int = 0) -> list[Any]:
    reports = []
    for n in range(first, first + cycles):
        reports.append(engine.run_cycle(n))
        clock.advance(timedelta(minutes=5))
    return reports


@pytest.fixture
def market() -> tuple[SyntheticMarket, ManualClock]:
    clock = ManualClock(START)
    return SyntheticMarket(seed=7, clock=clock), clock


def test_engine_trades_the_universe_through_the_broker(
    settings: Settings, client: redis.Redis, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    synthetic, clock = market
    open_up(settings, synthetic)
    bus = RedisEventBus(client, namespace=settings.namespace)
    engine = build_engine(settings, synthetic, bus=bus)

    reports = run(engine, clock, 40)

    submitted = [o for r in reports for o in r.orders if o.outcome == "submitted"]
    assert submitted, "the engine should have placed orders on 40 cycles of 8 symbols"
    fills = engine.ledger.fills()
    assert fills and {f.client_order_id for f in fills} <= {
        o.client_order_id for o in submitted
    } | {f.client_order_id for f in fills if f.reason.value != "order"}
    assert len(bus.tail("trade.executed", count=10_000)) == len(fills)
    assert all(r.policy_version == 1 for r in reports)
    assert engine.ledger.snapshot().equity > 0


def test_a_restarted_engine_places_no_order_twice(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    synthetic, clock = market
    open_up(settings, synthetic)
    first = build_engine(settings, synthetic)
    reports = run(first, clock, 12)
    placed = {o.client_order_id for r in reports for o in r.orders if o.outcome == "submitted"}
    assert placed

    clock.set(START)  # a new engine that re-derives every decision of those cycles
    again = run(build_engine(settings, synthetic), clock, 12)

    assert not [
        o
        for r in again
        for o in r.orders
        if o.outcome == "submitted" and o.client_order_id in placed
    ]
    coids = [f.client_order_id for f in first.ledger.fills()]
    assert len(coids) == len(set(coids))


def test_unreadable_policy_means_no_new_orders_and_says_why(
    settings: Settings, client: redis.Redis, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    synthetic, clock = market
    open_up(settings, synthetic)
    engine = build_engine(settings, synthetic)
    client.hset(f"{settings.namespace}:policy", "version", "2")  # version moved, and:
    client.hset(f"{settings.namespace}:policy", "max_positions", "not json")

    reports = run(engine, clock, 15)

    assert all(r.fail_closed and "policy cannot be read" in r.fail_closed for r in reports)
    assert not [o for r in reports for o in r.orders]
    assert not engine.ledger.open_orders()


def test_halted_ess_places_nothing_and_resume_trades_again(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    synthetic, clock = market
    open_up(settings, synthetic)
    engine = build_engine(settings, synthetic)
    engine.ess.halt("test", by="tests")

    halted = run(engine, clock, 20)

    assert not [o for r in halted for o in r.orders if o.outcome == "submitted"]
    assert all("HALTED" in (r.fail_closed or "") for r in halted)
    engine.ess.resume(by="tests", reason="over")
    resumed = run(engine, clock, 30, first=20)
    assert [o for r in resumed for o in r.orders if o.outcome == "submitted"]


def corrupt(frame: Any) -> Any:
    frame = frame.copy()
    frame.iloc[-3, frame.columns.get_loc("high")] = frame["low"].iloc[-3] * 0.5
    return frame


class BrokenSymbolMarket(SyntheticMarket):
    """ETH/USDT's bars come back with a bar whose high is below its low."""

    def bars(self, symbol: str, timeframe: str = "1h", **kwargs: Any) -> Any:
        frame = super().bars(symbol, timeframe, **kwargs)
        return corrupt(frame) if symbol == "ETH/USDT" else frame

    def bars_many(self, symbols: Any, timeframe: str = "1h", **kwargs: Any) -> Any:
        frames = super().bars_many(symbols, timeframe, **kwargs)
        return {s: corrupt(f) if s == "ETH/USDT" else f for s, f in frames.items()}

    def bars_block(self, symbols: Any, timeframe: str = "1h", **kwargs: Any) -> Any:
        read = super().bars_block(symbols, timeframe, **kwargs)
        blocks = []
        for block in read.blocks:
            values = block.values.copy()
            if "ETH/USDT" in block.symbols:
                row = block.row("ETH/USDT")
                values[1, row, -3] = values[2, row, -3] * 0.5  # high below the low
            blocks.append(BarBlock(block.symbols, block.times, values, block.timeframe))
        return BlockRead(blocks, read.skipped)


def test_bad_bars_skip_that_symbol_with_the_reason_and_the_rest_trade(
    settings: Settings,
) -> None:
    clock = ManualClock(START)
    synthetic = BrokenSymbolMarket(seed=7, clock=clock)
    open_up(settings, synthetic)
    engine = build_engine(settings, synthetic)

    reports = run(engine, clock, 30)

    assert all("ETH/USDT" in r.skipped and "high" in r.skipped["ETH/USDT"] for r in reports)
    assert all(r.symbols == 7 for r in reports)
    traded = {o.symbol for r in reports for o in r.orders if o.outcome == "submitted"}
    assert traded and "ETH/USDT" not in traded


def test_redis_gone_is_a_temporary_error_and_places_nothing(tmp_path: Path) -> None:
    home = tmp_path / "own-redis"
    ensure_embedded(home)
    settings = load_settings(home=home, namespace="gone")
    try:
        clock = ManualClock(START)
        synthetic = SyntheticMarket(seed=7, clock=clock)
        open_up(settings, synthetic)
        engine = build_engine(settings, synthetic)
        run(engine, clock, 3)
        stop_embedded(home)

        with pytest.raises(TemporaryError, match="no order was placed"):
            engine.run_cycle(3)
    finally:
        stop_embedded(home)


def test_a_shadow_strategy_trades_only_its_own_paper_account(
    settings: Settings, client: redis.Redis, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    from components.engine.shadow import shadow_namespace
    from components.execution import Ledger

    synthetic, clock = market
    PolicyStore.connect(settings).patch(
        {
            "active_universe": synthetic.symbols()[:8],
            "global_min_confidence": 0.5,
            "allowed_strategies": [],
            "strategy_states": {"breakout": "shadow"},
        },
        by="tests",
        reason="breakout on trial",
    )
    engine = build_engine(settings, synthetic)

    reports = run(engine, clock, 40)

    assert sum(r.shadow_orders for r in reports) > 0
    assert not [o for r in reports for o in r.orders], "a shadow strategy placed a real order"
    assert engine.ledger.fills() == []
    shadow = Ledger(client, namespace=shadow_namespace(settings.namespace, "breakout"))
    fills = shadow.fills(limit=None)
    assert fills and {f.strategy for f in fills} == {"breakout"}


def test_going_defensive_makes_the_balancer_cut_gross_exposure(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    from components.trading.types import OrderIntent, Side

    synthetic, clock = market
    symbols = synthetic.symbols()[:2]
    store = PolicyStore.connect(settings)
    store.patch(
        {
            "active_universe": symbols,
            "allowed_strategies": [],
            "opp_rankings": dict.fromkeys(symbols, 0.5),
        },
        by="tests",
        reason="two symbols",
    )
    engine = build_engine(settings, synthetic)
    engine.config = engine.config.model_copy(update={"manage_positions": False})
    for symbol in symbols:  # 20% of equity each: under the 25% cap and NORMAL 70% gross
        price = float(synthetic.bars(symbol, "5m", limit=1)["close"].iloc[-1])
        engine.broker.submit(
            OrderIntent(
                client_order_id=f"setup:{symbol}",
                symbol=symbol,
                side=Side.BUY,
                quantity=2_000 / price,
                reference_price=price,
                created_at=clock.now(),
            )
        )
    reports = run(engine, clock, 3)
    assert not [o for r in reports for o in r.orders], "NORMAL leaves 40% gross alone"
    assert len(engine.ledger.positions()) == 2

    store.patch({"risk_mode": "DEFENSIVE"}, by="tests", reason="defensive")
    reports = run(engine, clock, 3, first=3)

    trims = [o for r in reports for o in r.orders if o.client_order_id.startswith("rebal:")]
    assert trims and {o.symbol for o in trims} == set(symbols)
    marks = {s: float(synthetic.bars(s, "5m", limit=1)["close"].iloc[-1]) for s in symbols}
    after = engine.ledger.snapshot(marks)
    assert after.gross_exposure <= 0.3 * after.equity * 1.05


def test_a_relaunched_engine_never_shows_the_ess_a_closed_trade_twice(
    settings: Settings, client: redis.Redis, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    from components.execution.models import ClosedPosition

    synthetic, clock = market
    engine = build_engine(settings, synthetic)
    for n in range(3):  # three real losing trades, already closed
        loss = ClosedPosition(
            id=f"loss-{n}",
            symbol="BTC/USDT",
            direction="long",
            average_price=100.0,
            exit_price=99.0,
            realized_pnl=-1.0,
            fees=0.0,
            opened_at=START - timedelta(hours=2),
            closed_at=START - timedelta(hours=1, minutes=-n),
            exit_order_id=f"exit-{n}",
        )
        client.lpush(engine.ledger.keys["closed"], loss.model_dump_json())
    run(engine, clock, 2)
    assert engine.ess.status().loss_streak == 3

    for first in (2, 4, 6):  # three relaunches
        relaunched = build_engine(settings, synthetic)
        reports = run(relaunched, clock, 2, first=first)

    assert relaunched.ess.status().loss_streak == 3
    assert all(r.ess_state == "ACTIVE" for r in reports)


def test_an_intent_refused_every_cycle_is_announced_once_with_its_signal_id(
    settings: Settings, client: redis.Redis, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    from components.risk import RiskConfig, RiskGuard

    synthetic, clock = market
    open_up(settings, synthetic)
    bus = RedisEventBus(client, namespace=settings.namespace)
    engine = build_engine(settings, synthetic, bus=bus)
    engine.guard = RiskGuard(RiskConfig(min_notional=1e9))  # refuses every order

    reports = []
    for n in range(60):  # a cycle a minute: each 5-minute bar's intents come back 5 times
        if n == 30:
            engine = build_engine(settings, synthetic, bus=bus)  # a relaunch
            engine.guard = RiskGuard(RiskConfig(min_notional=1e9))
        reports.append(engine.run_cycle(n))
        clock.advance(timedelta(minutes=1))

    denied = [o for r in reports for o in r.orders if o.outcome == "denied"]
    refused = {o.client_order_id for o in denied}
    assert len(denied) > len(refused), "the same intents should come back cycle after cycle"
    events = bus.tail("order.rejected", count=10_000)
    assert sorted(e.payload.client_order_id for e in events) == sorted(refused)  # type: ignore[attr-defined]
    for event in events:
        signal_id = event.payload.client_order_id.removesuffix(":open")  # type: ignore[attr-defined]
        assert event.correlation_id == signal_id
