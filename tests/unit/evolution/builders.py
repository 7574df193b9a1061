"""Bars, strategies and evaluations for the evolution tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field

from components.evolution import Evaluation, FoldScore, GeneticConfig, Genome
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.market.synthetic import SyntheticMarket, default_symbols
from components.strategies.base import StrategyParams
from tests.unit.backtest.builders import PeekNextClose, SideFromCloses

END = datetime(2025, 6, 1, tzinfo=UTC)
START = pd.Timestamp("2024-01-01", tz="UTC")


def synthetic_bars(
    symbols: int = 3, bars: int = 1_200, *, seed: int = 3
) -> dict[str, pd.DataFrame]:
    """Hourly bars of the synthetic market, every symbol on one time index."""
    market = SyntheticMarket(seed=seed)
    return market.bars_many(default_symbols(symbols), "1h", limit=bars, end=END)


def small_config(**changes: Any) -> GeneticConfig:
    """A search small enough for a unit test: 8 genomes, 3 generations, 3 folds."""
    values: dict[str, Any] = {
        "population": 8,
        "generations": 3,
        "folds": 3,
        "min_trades": 2,
        "lookahead_samples": 5,
        "engine_history_bars": 200,
        "batch_size": 3,
        "seed": 11,
    }
    return GeneticConfig(**{**values, **changes})


def bars_from_closes(closes: Sequence[Sequence[float]] | np.ndarray) -> dict[str, pd.DataFrame]:
    """One symbol per row of ``closes``; each bar opens at the previous close."""
    rows = np.asarray(closes, dtype=np.float64)
    index = pd.date_range(START, periods=rows.shape[1], freq="1h", name="timestamp")
    frames = {}
    for i, close in enumerate(rows):
        open_ = np.concatenate(([close[0]], close[:-1]))
        frames[f"S{i}/USDT"] = pd.DataFrame(
            np.column_stack(
                [
                    open_,
                    np.maximum(open_, close) * 1.001,
                    np.minimum(open_, close) * 0.999,
                    close,
                    np.full(close.size, 100.0),
                ]
            ),
            index=index,
            columns=list(BAR_COLUMNS),
        )
    return frames


def trend_then_reversal(
    n: int, *, symbols: int = 2, step: float = 0.004, seed: int = 0
) -> np.ndarray:
    """Closes rising by ``step`` per bar (with noise) for the first half, falling after."""
    rng = np.random.default_rng(seed)
    drift = np.where(np.arange(n) < n // 2, step, -step)
    returns = drift + rng.normal(0.0, step / 2, size=(symbols, n))
    return 100.0 * np.exp(np.cumsum(returns, axis=1))


class NoParams(StrategyParams):
    """A strategy without params."""


class LagParams(StrategyParams):
    lag: int = Field(1, ge=1, le=5, description="Bars ahead it peeks.")


class AlwaysLong(SideFromCloses[Any]):
    """Long on every bar: wins in a rising window, loses in a falling one."""

    name: ClassVar[str] = "always_long"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        return np.ones(close.shape, dtype=np.int8)


class PeekAhead(PeekNextClose):
    """Long when the close ``lag`` bars ahead is higher: a strategy built to peek."""

    name: ClassVar[str] = "peek_ahead"


class SlowStart(AlwaysLong):
    """Needs 1,000 bars before its first signal, whatever its params."""

    name: ClassVar[str] = "slow_start"
    params_type: ClassVar[type[StrategyParams]] = LagParams

    @property
    def warmup(self) -> int:
        return 1_000


class LongFromBar250(SideFromCloses[Any]):
    """Long from the 250th bar it was given on: causal, but its signal depends on where the
    history starts, so the engine's few hundred bars would trade it differently."""

    name: ClassVar[str] = "long_from_bar_250"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        return np.broadcast_to(np.arange(close.shape[-1]) >= 250, close.shape).astype(np.int8)


def fold(score: float, *, sharpe: float | None = None, trades: int = 30, k: int = 1) -> FoldScore:
    """One fold's result with the given score."""
    return FoldScore(
        fold=k,
        start=END,
        end=END,
        score=score,
        floored=False,
        total_return=0.05,
        sharpe=score if sharpe is None else sharpe,
        sortino=score,
        max_drawdown=0.1,
        volatility=0.3,
        trades=trades,
        win_rate=0.5,
        exposure=0.4,
    )


def evaluation(
    strategy: str = "momentum",
    fitness: float = 1.0,
    *,
    rejected: str | None = None,
    **params: Any,
) -> Evaluation:
    """An evaluation of ``strategy`` with ``params`` and the given out-of-sample fitness."""
    genome = Genome.create(strategy, params)
    return Evaluation(
        genome=genome,
        fitness=fitness,
        in_sample_score=fitness + 1.0,
        out_of_sample=(fold(fitness, k=1),) if rejected is None else (),
        in_sample=(fold(fitness + 1.0, k=0),) if rejected is None else (),
        rejected=rejected,
    )


def store_candidates(client: Any, namespace: str, evaluations: Sequence[Evaluation]) -> None:
    """Keep ``evaluations`` as stored candidates, as a saved run would: a policy may name
    only strategies that exist."""
    from components.evolution.store import Candidate
    from components.redis import namespaced

    client.hset(
        namespaced(namespace, "evolution", "candidates"),
        mapping={
            e.candidate_name: Candidate(
                name=e.candidate_name, run_id="tests", evaluation=e
            ).model_dump_json()
            for e in evaluations
        },
    )
