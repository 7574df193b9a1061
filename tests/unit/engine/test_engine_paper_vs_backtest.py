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

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from components.backtest import BacktestConfig, Backtester
from components.engine import EngineConfig, TradingEngine
from components.execution import CostModel
from components.execution.config import BrokerConfig, PaperConfig
from components.market import FileMarket, ManualClock
from components.policy import PolicyStore
from components.risk.config import EssConfig, RiskConfig
from components.settings import Settings
from components.strategies import create_strategy
from tests.unit.backtest.builders import backtest_round_trips, paper_round_trips, random_walk

SYMBOL = "BTC/USDT"
BARS = 400
STRATEGY = create_strategy("sma_crossover", {"fast": 5, "slow": 30})


def replay_settings(settings: Settings) -> Settings:
    """Paper trading with every exit rule on, and limits that never resize an order or
    trip the Emergency Stop (the comparison is of the exit model, not of those)."""
    return settings.model_copy(
        update={
            "guardrails": settings.guardrails.model_copy(update={"min_confidence_floor": 0.0}),
            "engine": EngineConfig(timeframe="1h", history_bars=1_000, manage_positions=False),
            "paper": PaperConfig(
                costs=CostModel(fee_bps=10, slippage_bps=2, spread_bps=2),
                broker=BrokerConfig(stop_loss_atr=1.5, take_profit_atr=3.0, trailing_atr=2.5),
            ),
            "risk": RiskConfig(
                max_gross_exposure=10, max_net_exposure=10, max_symbol_exposure=10, min_notional=0
            ),
            "ess": EssConfig(
                drawdown_reduce=0.98,
                drawdown_halt=0.99,
                daily_loss_reduce=1,
                max_consecutive_losses=1_000,
                stale_data_bars=10_000,
            ),
        }
    )


@pytest.mark.parametrize("seed", [6, 12])
def test_the_engine_on_paper_and_the_backtester_take_the_same_trades(
    settings: Settings, tmp_path: Path, seed: int
) -> None:
    settings = replay_settings(settings)
    bars = random_walk(BARS, seed=seed)
    folder = tmp_path / "bars"
    folder.mkdir()
    bars.to_parquet(folder / "BTC_USDT-1h.parquet")
    step = timedelta(hours=1)
    clock = ManualClock(bars.index[1].to_pydatetime() + step)  # two bars closed
    market = FileMarket(folder, clock=clock)
    PolicyStore.connect(settings).patch(
        {
            "active_universe": [SYMBOL],
            "allowed_strategies": ["sma_crossover"],
            "global_min_confidence": 0.0,
            "max_positions": 5,
        },
        by="tests",
        reason="one strategy on one symbol",
    )
    engine = TradingEngine.from_settings(settings, market)
    engine.resolve_strategy = lambda name: STRATEGY if name == "sma_crossover" else None
    for cycle in range(BARS - 1):
        report = engine.run_cycle(cycle)
        assert all(o.outcome == "submitted" for o in report.orders), report.orders
        clock.advance(step)

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
