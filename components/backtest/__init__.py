"""Backtests that do not lie: the engine's strategies over history, the paper broker's costs.

    backtester = Backtester(cash=10_000, cost_model=CostModel(fee_bps=10))
    result = backtester.run(create_strategy("sma_crossover"), bars)
    result.metrics.sharpe, result.equity, result.drawdown, result.trades
    portfolio = backtester.run_many(strategy, {"BTC/USDT": btc, "ETH/USDT": eth})
    grid = backtester.run_grid("sma_crossover", parse_grid(["fast=5:50:5"]), bars).table
    check_no_lookahead(strategy, bars)    # LookaheadError if a signal peeks at later bars
    check_recursion(strategy, bars)       # UnstableSignalError if 500 bars of history differ

A signal at bar t fills at the open of bar t + 1; a trade open at the end closes at the
last close. The rules: :mod:`components.backtest.simulation`; the metrics:
:mod:`components.backtest.metrics`; the checks: :mod:`components.backtest.lookahead`.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.backtest.backtester import (
        SPREAD_COLUMN,
        TRADE_COLUMNS,
        Backtester,
        BacktestResult,
        PortfolioBacktestResult,
    )
    from components.backtest.config import BacktestConfig, SizingMode
    from components.backtest.grid import GRID_METRICS, GridResult, parse_grid
    from components.backtest.lookahead import (
        LookaheadError,
        LookaheadReport,
        RecursionReport,
        SignalDifference,
        UnstableSignalError,
        check_no_lookahead,
        check_recursion,
    )
    from components.backtest.metrics import Metrics, drawdown, metrics_from_equity
    from components.backtest.simulation import EXIT_REASONS, Simulation, TradeArrays, simulate


__all__ = [
    "EXIT_REASONS",
    "GRID_METRICS",
    "SPREAD_COLUMN",
    "TRADE_COLUMNS",
    "BacktestConfig",
    "BacktestResult",
    "Backtester",
    "GridResult",
    "LookaheadError",
    "LookaheadReport",
    "Metrics",
    "PortfolioBacktestResult",
    "RecursionReport",
    "SignalDifference",
    "Simulation",
    "SizingMode",
    "TradeArrays",
    "UnstableSignalError",
    "check_no_lookahead",
    "check_recursion",
    "drawdown",
    "metrics_from_equity",
    "parse_grid",
    "simulate",
]

__getattr__ = lazy_exports(
    __name__, ("backtester", "config", "grid", "lookahead", "metrics", "simulation")
)
