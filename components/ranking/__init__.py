"""Opportunity Ranker (score every symbol) and Universe selection (which ones to trade)."""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.ranking.ranker import (
        OpportunityRanker,
        RankerConfig,
        Ranking,
        SymbolScore,
    )
    from components.ranking.universe import UniverseConfig, UniverseSelection, select_universe


__all__ = [
    "OpportunityRanker",
    "RankerConfig",
    "Ranking",
    "SymbolScore",
    "UniverseConfig",
    "UniverseSelection",
    "select_universe",
]

__getattr__ = lazy_exports(__name__, ("ranker", "universe"))
