"""Opportunity Ranker (score every symbol) and Universe selection (which ones to trade)."""

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
