"""Tasks of the Opportunity Ranker and the Universe selection."""

from __future__ import annotations

import pandas as pd

from components.market import Ticker
from components.ranking import (
    OpportunityRanker,
    RankerConfig,
    Ranking,
    UniverseSelection,
    select_universe,
)
from components.redis import namespaced
from components.settings import Settings
from tasks.common import compute_task, io_task
from tasks.runtime import runtime


def ranker_config(settings: Settings, timeframe: str) -> RankerConfig:
    return settings.ranker.for_timeframe(timeframe)


@compute_task("score_symbols")
def score_symbols(
    settings: Settings, bars: dict[str, pd.DataFrame], tickers: dict[str, Ticker], timeframe: str
) -> Ranking:
    """Score every symbol at once (one task for all: a task per symbol costs more than
    the scoring)."""
    return OpportunityRanker(ranker_config(settings, timeframe)).score(bars, tickers)


def _ranking_key(settings: Settings) -> str:
    return namespaced(settings.namespace, "ranking", "latest")


@io_task("save_ranking")
def save_ranking(settings: Settings, ranking: Ranking) -> None:
    """Keep the whole ranking (parts and filter reasons) for the universe refresh."""
    runtime(settings).client.set(_ranking_key(settings), ranking.to_json())


@io_task("load_ranking")
def load_ranking(settings: Settings) -> Ranking | None:
    raw = runtime(settings).client.get(_ranking_key(settings))
    return Ranking.from_json(str(raw)) if raw else None


@compute_task("choose_universe")
def choose_universe(
    settings: Settings, ranking: Ranking, incumbents: list[str], open_positions: list[str]
) -> UniverseSelection:
    return select_universe(
        ranking, incumbents=incumbents, open_positions=open_positions, config=settings.universe
    )
