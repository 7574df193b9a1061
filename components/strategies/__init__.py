"""Strategies: one contract, five built-ins, one registry; the same code in backtests and live.

    strategy = create_strategy("trend_following", {"fast": 20, "slow": 50})
    frame = strategy.signals(bars)                      # direction, confidence per bar
    direction, confidence = strategy.signal_arrays(o, h, l, c, v)   # the numpy fast path
    signal = latest_signal(strategy, "BTC/USDT", bars)  # the engine's Signal, last bar

See :mod:`components.strategies.base` for the contract (no lookahead, warm-up, ranges).
The package imports its parts on first use, so :mod:`~components.strategies.names` (the
built-ins' names) loads without pandas.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.strategies.base import (
        ParamBound,
        SignalArrays,
        Strategy,
        StrategyParams,
    )
    from components.strategies.breakout import BreakoutParams, BreakoutStrategy
    from components.strategies.live import latest_signal
    from components.strategies.mean_reversion import MeanReversionParams, MeanReversionStrategy
    from components.strategies.momentum import MomentumParams, MomentumStrategy
    from components.strategies.registry import STRATEGIES, create_strategy
    from components.strategies.sma_crossover import SmaCrossoverParams, SmaCrossoverStrategy
    from components.strategies.trend_following import TrendFollowingParams, TrendFollowingStrategy


__all__ = [
    "STRATEGIES",
    "BreakoutParams",
    "BreakoutStrategy",
    "MeanReversionParams",
    "MeanReversionStrategy",
    "MomentumParams",
    "MomentumStrategy",
    "ParamBound",
    "SignalArrays",
    "SmaCrossoverParams",
    "SmaCrossoverStrategy",
    "Strategy",
    "StrategyParams",
    "TrendFollowingParams",
    "TrendFollowingStrategy",
    "create_strategy",
    "latest_signal",
]

__getattr__ = lazy_exports(
    __name__,
    (
        "base",
        "registry",
        "live",
        "breakout",
        "mean_reversion",
        "momentum",
        "sma_crossover",
        "trend_following",
    ),
)
