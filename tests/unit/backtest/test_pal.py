"""The Profit Amplification Layer in the backtester: the engine's decision, replayed bar by
bar with the exit model; off, it changes nothing."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from components.backtest import BacktestConfig, Backtester, TradeArrays
from components.config import ModuleMode
from components.execution import CostModel
from components.execution.exits import ExitRules
from components.pal import PalConfig
from components.strategies import create_strategy
from tests.unit.backtest.builders import random_walk

STRATEGY = create_strategy("sma_crossover", {"fast": 5, "slow": 30})
BASE = BacktestConfig(
    cost_model=CostModel(fee_bps=10, slippage_bps=2, spread_bps=2),
    exits=ExitRules(stop_loss_atr=1.5, take_profit_atr=6.0, trailing_atr=3.0),
    sizing="risk",
    allow_short=False,
)
IDLE = PalConfig(mode=ModuleMode.ENFORCED, partial_r=(50.0,), scale_in_r=None, trail_r=None)
ACTIVE = PalConfig(mode=ModuleMode.ENFORCED, partial_r=(1.0, 2.0), scale_in_r=0.5, trail_r=1.0)


def run(pal: PalConfig | None, seed: int, **changes: object) -> object:
    config = BASE.model_copy(update={"pal": pal, **changes})
    return Backtester(config).run(STRATEGY, random_walk(600, seed=seed))


def assert_same(a: TradeArrays, b: TradeArrays) -> None:
    for f in fields(TradeArrays):
        np.testing.assert_allclose(getattr(a, f.name), getattr(b, f.name), rtol=1e-9)


@pytest.mark.parametrize("seed", [3, 6, 12])
@pytest.mark.parametrize("sizing", ["risk", "all_in"])
def test_a_layer_that_never_acts_replays_exactly_the_trades_of_the_vectorised_path(
    seed: int, sizing: str
) -> None:
    plain = run(None, seed, sizing=sizing)
    idle = run(IDLE, seed, sizing=sizing)

    assert_same(idle.trade_arrays, plain.trade_arrays)  # type: ignore[attr-defined]
    np.testing.assert_allclose(idle.equity, plain.equity, rtol=1e-9)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", [ModuleMode.OFF, ModuleMode.OBSERVE])
def test_off_or_observing_the_backtest_is_unchanged(mode: ModuleMode) -> None:
    plain = run(None, 6)
    other = run(ACTIVE.model_copy(update={"mode": mode}), 6)

    assert_same(other.trade_arrays, plain.trade_arrays)  # type: ignore[attr-defined]


def test_an_acting_layer_changes_the_trades_and_keeps_the_books_whole() -> None:
    plain = run(None, 6)
    amplified = run(ACTIVE, 6)

    a, p = amplified.trade_arrays, plain.trade_arrays  # type: ignore[attr-defined]
    assert not np.allclose(a.pnl.sum(), p.pnl.sum())
    final = amplified.equity.iloc[-1]  # type: ignore[attr-defined]
    assert final == pytest.approx(BASE.cash + a.pnl.sum(), rel=1e-9)
    assert amplified.metrics.final_equity == pytest.approx(final)  # type: ignore[attr-defined]


def test_a_grid_with_the_layer_trades_as_run_does_per_set() -> None:
    bars = random_walk(600, seed=6)
    backtester = Backtester(BASE.model_copy(update={"pal": ACTIVE}))

    result = backtester.run_grid("sma_crossover", {"fast": [5, 10], "slow": [30]}, bars)

    for row, trades in zip(result.table.itertuples(), result.trades, strict=True):
        single = backtester.run(
            create_strategy("sma_crossover", {"fast": row.fast, "slow": row.slow}), bars
        )
        assert_same(trades, single.trade_arrays)
