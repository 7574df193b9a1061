"""The engine replaying a file of hourly bars on paper, one closed bar per cycle: for the
tests that compare it with the backtester or watch one of its layers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from components.engine import CycleReport, EngineConfig, TradingEngine
from components.engine.factory import build_engine
from components.execution import CostModel
from components.execution.config import BrokerConfig, PaperConfig
from components.market import FileMarket, ManualClock
from components.policy import PolicyStore
from components.risk.config import EssConfig, RiskConfig
from components.settings import Settings
from components.strategies import Strategy

SYMBOL = "BTC/USDT"
STEP = timedelta(hours=1)


def replay_settings(settings: Settings, **updates: Any) -> Settings:
    """Paper trading with every exit rule on, and limits that never resize an order or
    trip the Emergency Stop (what the tests compare is elsewhere); ``updates`` win."""
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
            **updates,
        }
    )


def replay(
    settings: Settings, bars: pd.DataFrame, folder: Path, strategy: Strategy[Any]
) -> tuple[TradingEngine, Iterator[CycleReport]]:
    """An engine trading ``strategy`` on ``bars`` (written under ``folder``), and its cycles:
    the first when two bars have closed, then one per bar."""
    folder.mkdir(parents=True, exist_ok=True)
    bars.to_parquet(folder / "BTC_USDT-1h.parquet")
    clock = ManualClock(bars.index[1].to_pydatetime() + STEP)
    PolicyStore.connect(settings).patch(
        {
            "active_universe": [SYMBOL],
            "allowed_strategies": [strategy.name],
            "global_min_confidence": 0.0,
            "max_positions": 5,
        },
        by="tests",
        reason="one strategy on one symbol",
    )
    engine = build_engine(settings, FileMarket(folder, clock=clock))
    engine.resolve_strategy = lambda name: strategy if name == strategy.name else None

    def cycles() -> Iterator[CycleReport]:
        for cycle in range(len(bars) - 1):
            yield engine.run_cycle(cycle)
            clock.advance(STEP)

    return engine, cycles()
