"""The settings of the Strategy Generator (``settings.evolution``; ``QT_EVOLUTION__*``, flat
``QT_EVOLUTION_*``) and of the promotion review (``settings.promotion``; ``QT_PROMOTION__*``,
flat ``QT_PROMOTION_*``). A light module: :mod:`components.settings` nests both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Self

from pydantic import Field, model_validator

from components.config import ComponentConfig, Flat, ModuleMode

_YEAR = timedelta(days=365)


class EvolutionConfig(ComponentConfig):
    """How the scheduled strategy generation searches: its size, seed, data and workers;
    :meth:`~components.evolution.config.GeneticConfig.from_settings` reads it.

    >>> EvolutionConfig(population=16, generations=5)
    """

    mode: Annotated[ModuleMode, Flat("QT_GENERATOR_MODE")] = Field(
        ModuleMode.ENFORCED, description="OFF, OBSERVE or ENFORCED."
    )
    population: int = Field(64, ge=4, le=10_000, description="Genomes per generation.")
    generations: int = Field(20, ge=1, le=10_000, description="Generations, the first included.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of every random draw of a run.")
    history_bars: int = Field(
        8_760, ge=500, le=1_000_000, description="Bars per symbol searched (engine timeframe)."
    )
    symbols: int = Field(10, ge=1, le=1_000, description="Symbols searched.")
    workers: int = Field(2, ge=1, le=256, description="Processes evaluating.")
    dask_address: Annotated[str | None, Flat("QT_DASK_ADDRESS")] = Field(
        None,
        pattern=r"^(tcp|tls|inproc|ucx)://\S+$",
        description="Dask scheduler (tcp://host:8786) for research; unset: local processes.",
    )


class PromotionConfig(ComponentConfig):
    """Thresholds of the shadow and promotion decisions (see
    :mod:`components.evolution.promotion`).

    Example: ``PromotionConfig(min_shadow_period=timedelta(days=3), promote_sharpe=1.5)``.
    """

    # entering shadow
    max_new_shadow: int = Field(2, ge=0, le=100, description="Candidates entering per run.")
    max_shadow: int = Field(6, ge=0, le=1_000, description="Shadow strategies at once.")
    distinct_strategies: bool = Field(
        True, description="At most one new candidate per kind of strategy per run."
    )
    min_fitness: float = Field(
        0.5, ge=-1_000, le=1_000, description="Out-of-sample fitness a candidate needs."
    )
    # shadow -> live
    min_shadow_period: timedelta = Field(
        timedelta(days=7), ge=timedelta(0), le=_YEAR, description="Time in shadow first."
    )
    max_shadow_period: timedelta = Field(
        timedelta(days=28),
        gt=timedelta(0),
        le=_YEAR,
        description="A shadow strategy not promoted by then is retired.",
    )
    min_trades: int = Field(
        20, ge=0, le=1_000_000, description="Closed trades before any judgement."
    )
    promote_sharpe: float = Field(1.0, ge=-100, le=100, description="Sharpe to go live.")
    promote_return: float | None = Field(
        0.0, ge=-1, le=100, description="Return on capital to go live; None: not required."
    )
    # live -> retired
    min_live_period: timedelta = Field(
        timedelta(days=7), ge=timedelta(0), le=_YEAR, description="Time live before judging."
    )
    retire_sharpe: float = Field(0.0, ge=-100, le=100, description="Sharpe floor.")
    retire_return: float | None = Field(
        -0.05, ge=-1, le=100, description="Return floor; None: no return floor."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.max_shadow_period <= self.min_shadow_period:
            raise ValueError(
                f"max_shadow_period={self.max_shadow_period} must exceed "
                f"min_shadow_period={self.min_shadow_period}"
            )
        if self.retire_sharpe > self.promote_sharpe:
            raise ValueError(
                f"retire_sharpe={self.retire_sharpe} must not exceed "
                f"promote_sharpe={self.promote_sharpe}"
            )
        return self
