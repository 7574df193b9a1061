"""How a genetic search runs and how its candidates are scored: one frozen config.

    config = GeneticConfig(population=32, generations=10, seed=7, folds=4)
    config = GeneticConfig.from_settings(settings, seed=7)   # engine history, costs, sides

The fields fall in three groups: the search (population, generations, selection,
crossover, mutation, elitism, seed, strategies), the fitness (walk-forward folds, minimum
trades, drawdown penalty, floor and cap of a fold's score, the backtest's costs and sides)
and the honesty gates every candidate passes before it counts (lookahead samples, the
engine's history for the recursion check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.backtest.config import BacktestConfig
from components.config import declared
from components.evolution.sections import EvolutionConfig
from components.strategies.registry import STRATEGIES

if TYPE_CHECKING:
    from components.settings import Settings

UNSEARCHABLE: frozenset[str] = frozenset({"ml"})
"""Strategies the generator refuses to search: the ``ml`` strategy's params pick a model
version from a registry, so its signals are not a function of (params, bars) alone."""

DEFAULT_STRATEGIES: tuple[str, ...] = tuple(name for name in STRATEGIES if name not in UNSEARCHABLE)
"""Every built-in strategy the generator can search, in registry order."""


class GeneticConfig(BaseModel):
    """Knobs of :class:`~components.evolution.StrategyGenerator` and its fitness.

    The defaults are the daily ``strategy-generation`` run: 64 genomes for 20
    generations, walk-forward over 4 folds, every candidate checked for lookahead and for
    the same signals from the engine's 300 bars of history as from the full history.

    Example: ``GeneticConfig(population=16, generations=5, seed=1, strategies=("momentum",))``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- the search -----------------------------------------------------------------------
    population: int = declared(EvolutionConfig, "population")
    generations: int = declared(EvolutionConfig, "generations")
    tournament_size: int = Field(
        3, ge=2, le=64, description="Genomes drawn per tournament; the fittest is a parent."
    )
    crossover_rate: float = Field(
        0.7, ge=0, le=1, description="Chance that a child mixes two parents of one strategy."
    )
    mutation_rate: float = Field(0.25, ge=0, le=1, description="Chance that each param mutates.")
    mutation_scale: float = Field(
        0.1, gt=0, le=1, description="Std of a numeric mutation, as a share of the param's range."
    )
    elitism: int = Field(2, ge=0, le=1_000, description="Fittest genomes copied unchanged.")
    seed: int = declared(EvolutionConfig, "seed")
    strategies: tuple[str, ...] = Field(
        DEFAULT_STRATEGIES, min_length=1, description="Strategies to search (registry names)."
    )
    batch_size: int = Field(
        8,
        ge=1,
        le=10_000,
        description="Genomes per evaluation task: each task carries the bars once.",
    )

    # --- the fitness ----------------------------------------------------------------------
    folds: int = Field(
        4,
        ge=2,
        le=50,
        description="Consecutive windows of history; each after the first is scored out of "
        "sample, the one before it in sample.",
    )
    min_trades: int = Field(
        10, ge=0, le=1_000_000, description="Trades a fold needs (all symbols); else the floor."
    )
    drawdown_penalty: float = Field(
        1.0, ge=0, le=100, description="Score lost per unit of max drawdown (0.2 = 20%)."
    )
    floor_score: float = Field(
        -3.0, ge=-1_000, le=0, description="Score of a fold with fewer than min_trades trades."
    )
    sharpe_cap: float = Field(
        10.0, gt=0, le=1_000, description="A fold's Sharpe is clipped to +-this (no inf)."
    )
    backtest: BacktestConfig = Field(
        default_factory=lambda: BacktestConfig(allow_short=False),
        description="Cash, costs, sizing and sides of the folds; long only by default, as the "
        "engine trades unless QT_ENGINE_ALLOW_SHORT is set.",
    )

    # --- the gates ------------------------------------------------------------------------
    lookahead_samples: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Windows of the recursion check (the lookahead check cuts at every "
        "signal change).",
    )
    engine_history_bars: int | None = Field(
        300,
        ge=10,
        le=100_000,
        description="Bars the engine reads per cycle: a longer warm-up is invalid, and signals "
        "from this many bars must equal the full-history ones. None: no such check.",
    )
    max_recursion_mismatch: float = Field(
        0.0, ge=0, le=1, description="Share of sampled windows allowed to differ."
    )
    recursion_tolerance: float = Field(
        1e-3,
        ge=0,
        le=1,
        description="Confidence difference taken as equal in the recursion check (the "
        "direction must match exactly); recursive indicators settle to rounding noise.",
    )

    @field_validator("strategies")
    @classmethod
    def _searchable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in STRATEGIES]
        if unknown:
            known = ", ".join(sorted(STRATEGIES))
            raise ValueError(f"unknown strategies {unknown}; known: {known}")
        refused = [name for name in value if name in UNSEARCHABLE]
        if refused:
            raise ValueError(
                f"strategies {refused} cannot be searched (their signals depend on more than "
                "params and bars); leave them out"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"strategies {list(value)} name one strategy twice")
        return value

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.elitism >= self.population:
            raise ValueError(
                f"elitism={self.elitism} must be below population={self.population}, "
                "or no child is ever bred"
            )
        return self

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Self:
        """The backtest costs and cash of the paper broker (``QT_PAPER_*``), shorts as the
        engine trades them (``QT_ENGINE_ALLOW_SHORT``), the engine's history
        (``QT_ENGINE_HISTORY_BARS``), and the search's size and seed from
        ``settings.evolution``; ``overrides`` win.

        Example: ``GeneticConfig.from_settings(load_settings(), generations=5)``.
        """
        # Candidates are still scored on signal exits only (exits=None): with the paper
        # broker's stops the small searches of the research flow find no candidate worth
        # shadowing; scoring with the one exit model waits for a search tuned to it.
        backtest = BacktestConfig.from_settings(
            settings, allow_short=settings.engine.allow_short, exits=None
        )
        search = settings.evolution
        values: dict[str, Any] = {
            "backtest": backtest,
            "engine_history_bars": settings.engine.history_bars,
            "population": search.population,
            "generations": search.generations,
            "seed": search.seed,
        }
        return cls(**{**values, **overrides})
