"""One exit model, end to end: the same bars through the trading engine on paper (its real
cycle, the PaperBroker, the ledger on real Redis) and through the backtester give the same
trades, with stop-losses, take-profits and trailing stops all firing.

The engine replays a file of hourly bars one closed bar per cycle (a manual clock); the
backtester runs the same strategy over the same file at once, sized as the engine sizes
(``sizing="risk"``: the PositionSizer, its stop the order's stop-loss) with the paper
broker's costs and exit rules (``BacktestConfig.from_settings``). Long only: the engine
closes a position on an opposite signal and opens the other side on a later bar, which the
backtester's same-open reversal does not model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from components.backtest import BacktestConfig, Backtester
from components.settings import Settings
from components.strategies import create_strategy
from tests.unit.backtest.builders import backtest_round_trips, paper_round_trips, random_walk
from tests.unit.engine.replay import SYMBOL, replay, replay_settings

BARS = 400
STRATEGY = create_strategy("sma_crossover", {"fast": 5, "slow": 30})


@pytest.mark.parametrize("seed", [6, 12])
def test_the_engine_on_paper_and_the_backtester_take_the_same_trades(
    settings: Settings, tmp_path: Path, seed: int
) -> None:
    settings = replay_settings(settings)
    bars = random_walk(BARS, seed=seed)
    engine, cycles = replay(settings, bars, tmp_path / "bars", STRATEGY)
    for report in cycles:
        assert all(o.outcome == "submitted" for o in report.orders), report.orders

    config = BacktestConfig.from_settings(
        settings,
        sizing="risk",
        allow_short=False,
        max_risk_per_trade=engine.store.get().max_risk_per_trade,
    )
    result = Backtester(config).run(STRATEGY, bars, symbol=SYMBOL)

    paper = paper_round_trips(engine.ledger.fills(limit=None), bars.index)
    backtest = backtest_round_trips(result.trades)
    assert [p[:3] for p in paper] == [b[:3] for b in backtest]
    np.testing.assert_allclose([p[3:] for p in paper], [b[3:] for b in backtest], rtol=1e-9)
    assert {"stop_loss", "take_profit", "trailing_stop", "signal"} <= {p[2] for p in paper}
