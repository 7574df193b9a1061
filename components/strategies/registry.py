"""Strategies by name: the built-ins, and the one place to create a strategy from config.

strategy = create_strategy("momentum", {"lookback": 48})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.errors import ConfigurationError
from components.strategies.base import Strategy
from components.strategies.breakout import BreakoutStrategy
from components.strategies.mean_reversion import MeanReversionStrategy
from components.strategies.momentum import MomentumStrategy
from components.strategies.sma_crossover import SmaCrossoverStrategy
from components.strategies.trend_following import TrendFollowingStrategy

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    cls.name: cls
    for cls in (
        MomentumStrategy,
        MeanReversionStrategy,
        TrendFollowingStrategy,
        BreakoutStrategy,
        SmaCrossoverStrategy,
    )
}
"""Every built-in strategy class by its ``name``."""


def create_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy[Any]:
    """The strategy called ``name`` with ``params`` (missing ones take their defaults).

    Raises
    ------
    ConfigurationError
        ``name`` is unknown (the message lists the known ones), or a param is unknown or
        out of range (the message names it and its allowed range). Nothing is created.

    Example: ``create_strategy("breakout", {"lookback": 55})``.
    """
    cls = STRATEGIES.get(name)
    if cls is None:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigurationError(f"unknown strategy {name!r}; known strategies: {known}")
    return cls(params)
