"""The built-in strategies' names, importable without pandas or numpy.

A command checks a strategy name against these before it loads the strategies, so a typo
is refused at once; :data:`components.strategies.registry.STRATEGIES` holds exactly these
names (a unit test keeps the two together).

    "momentum" in BUILTIN_STRATEGIES  # -> True
"""

from __future__ import annotations

BUILTIN_STRATEGIES: tuple[str, ...] = (
    "breakout",
    "mean_reversion",
    "momentum",
    "sma_crossover",
    "trend_following",
)
"""Every built-in strategy's ``name``, sorted."""
