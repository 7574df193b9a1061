"""One exit model: the same bars through the paper broker (bar by bar, as the engine feeds
it) and through the backtester give the same trades, stops, targets and trailing stops."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import redis

from components.backtest import Backtester
from components.execution import BrokerConfig, CostModel, Ledger, PaperBroker
from components.execution.exits import ExitLevels, ExitReason, ExitRules, exit_along
from components.indicators import atr
from components.strategies import create_strategy
from components.trading.types import OrderIntent, Side
from tests.unit.backtest.builders import (
    RoundTrip,
    backtest_round_trips,
    paper_round_trips,
    random_walk,
)

COSTS = CostModel(fee_bps=10, slippage_bps=2, spread_bps=2)
RULES = ExitRules(stop_loss_atr=1.5, take_profit_atr=3.0, trailing_atr=2.0)


def paper_trades(
    bars: pd.DataFrame, direction: np.ndarray, client: redis.Redis, namespace: str
) -> list[RoundTrip]:
    """Drive a PaperBroker as the engine does: at each bar's close, an order for a change
    of signal (it fills at the next open); each bar through ``on_bar`` with its ATR."""
    ledger = Ledger(client, namespace=namespace)
    broker = PaperBroker(
        ledger,
        COSTS,
        BrokerConfig(stop_loss_atr=1.5, take_profit_atr=3.0, trailing_atr=2.0),
    )
    values = bars[["high", "low", "close"]].to_numpy().T
    atrs = atr(*values, 14)
    index = bars.index
    step = index[1] - index[0]
    for t in range(len(bars)):
        at = index[t].to_pydatetime()
        entry_atr = float(atrs[t - 1]) if t > 0 else None
        broker.on_bar("BTC/USDT", bars.iloc[t], at, atr=float(atrs[t]), entry_atr=entry_atr)
        if t == 0 or direction[t] == direction[t - 1]:
            continue
        position = ledger.position("BTC/USDT")
        close_at = (index[t] + step).to_pydatetime()
        if direction[t] == 1 and position is None:
            broker.submit(order(f"in-{t}", Side.BUY, 1.0, close_at))
        elif direction[t] == 0 and position is not None:
            broker.submit(order(f"out-{t}", Side.SELL, position.quantity, close_at, True))
    return paper_round_trips(ledger.fills(limit=None), index)


def order(coid: str, side: Side, quantity: float, at: object, reduce: bool = False) -> OrderIntent:
    return OrderIntent(
        client_order_id=coid,
        symbol="BTC/USDT",
        side=side,
        quantity=quantity,
        reference_price=100.0,
        reduce_only=reduce,
        created_at=at,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("seed", [3, 8])
def test_paper_and_backtest_take_the_same_trades_with_every_exit_firing(
    client: redis.Redis, namespace: str, seed: int
) -> None:
    bars = random_walk(1_500, seed=seed)
    strategy = create_strategy("sma_crossover", {"fast": 5, "slow": 30})
    direction = strategy.signals(bars)["direction"].to_numpy()

    result = Backtester(cost_model=COSTS, exits=RULES, atr_period=14).run(strategy, bars)
    paper = paper_trades(bars, direction, client, namespace)

    backtest = backtest_round_trips(result.trades)
    assert [p[:3] for p in paper] == [b[:3] for b in backtest]
    np.testing.assert_allclose([p[3:5] for p in paper], [b[3:5] for b in backtest], rtol=1e-12)
    fired = {r for _, _, r, *_ in backtest}
    assert {"stop_loss", "take_profit", "trailing_stop", "signal"} <= fired


def test_a_bar_reaching_both_stop_and_target_takes_the_stop() -> None:
    path = exit_along(
        +1, ExitLevels(95.0, 110.0), open_=100.0, high=111.0, low=94.0, atr=1.0,
        rules=ExitRules(slip_stops=False), cost_model=COSTS,
    )  # fmt: skip

    assert path.bar == 0 and path.decision is not None
    assert (path.decision.reason, path.decision.price) == (ExitReason.STOP_LOSS, 95.0)


def test_the_trailing_stop_moves_after_a_bar_and_never_back() -> None:
    rules = ExitRules(stop_loss_atr=None, take_profit_atr=None, trailing_atr=2.0, slip_stops=False)

    path = exit_along(
        +1, ExitLevels(), open_=[100, 104, 103, 101], high=[105, 106, 104, 102],
        low=[99, 103.5, 101, 99.5], atr=[1.0] * 4, rules=rules, cost_model=COSTS,
    )  # fmt: skip

    # trail after bar 0: 103, after bar 1: 104 (never back down), bar 3 trades through it
    assert path.bar == 2 and path.decision is not None
    assert path.decision.reason is ExitReason.TRAILING_STOP
    assert path.decision.price == 103.0  # bar 2 opened below the 104 trail: at the open
    assert path.levels.trailing_stop == 104.0


def test_without_exit_rules_the_backtest_trades_on_signals_only() -> None:
    bars = random_walk(800, seed=3)
    strategy = create_strategy("sma_crossover", {"fast": 5, "slow": 30})

    plain = Backtester(cost_model=COSTS).run(strategy, bars).trades

    assert set(plain["exit_reason"].astype(str)) <= {"signal", "end"}
    assert timedelta(0) < bars.index[1] - bars.index[0]
