"""The settings of the Opportunity Ranker (``settings.ranker``) and of the active universe
(``settings.universe``; ``QT_UNIVERSE__*``, flat ``QT_UNIVERSE_*``)."""

from __future__ import annotations

import math
from typing import Annotated, Self

from pydantic import Field, model_validator

from components.config import ComponentConfig, Flat, ModuleMode

WEIGHT_FIELDS = ("weight_trend", "weight_volatility", "weight_liquidity", "weight_performance")


class RankerConfig(ComponentConfig):
    """Weights, filters and scales of the
    :class:`~components.ranking.ranker.OpportunityRanker` (``settings.ranker``;
    ``QT_RANKER__*``, flat ``QT_RANK_*`` and ``QT_RANKER_MODE``)."""

    mode: Annotated[ModuleMode, Flat("QT_RANKER_MODE")] = ModuleMode.ENFORCED
    weight_trend: float = Field(0.35, ge=0, le=1)
    weight_volatility: float = Field(0.25, ge=0, le=1)
    weight_liquidity: float = Field(0.20, ge=0, le=1)
    weight_performance: float = Field(0.20, ge=0, le=1)
    min_quote_volume: Annotated[float, Flat(segment="min_volume")] = Field(
        1e9, ge=0, le=1e15, description="Minimum 24h quote volume."
    )
    max_spread_bps: float = Field(50.0, gt=0, le=10_000, description="Maximum bid/ask spread.")
    window: int = Field(100, ge=10, le=100_000, description="Bars scored, and needed.")
    lookback: int = Field(24, ge=2, le=100_000, description="Bars of momentum and ER.")
    atr_period: int = Field(14, ge=1, le=1_000)
    adx_period: int = Field(14, ge=1, le=1_000)
    adx_full: float = Field(50.0, gt=0, le=100, description="ADX that scores full trend.")
    bars_per_day: float = Field(24.0, gt=0, le=86_400, description="1h bars: 24.")
    ideal_volatility_low: float = Field(0.01, gt=0, le=10, description="Daily ATR%.")
    ideal_volatility_high: float = Field(0.03, gt=0, le=10, description="Daily ATR%.")
    volatility_tolerance: float = Field(2.0, gt=1, le=100)
    volume_floor: float = Field(1e6, gt=0, description="Quote volume that scores 0.")
    volume_full: float = Field(1e10, gt=0, description="Quote volume that scores 1.")
    spread_penalty: float = Field(0.5, ge=0, le=1)
    performance_scale: float = Field(0.05, gt=0, le=10)
    top_n: int = Field(20, ge=1, le=100_000, description="Default size of Ranking.top().")

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        weights = [getattr(self, name) for name in WEIGHT_FIELDS]
        total = sum(weights)
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"{' + '.join(WEIGHT_FIELDS)} = {total:g}; the weights must sum to 1")
        needed = max(self.lookback + 1, 2 * self.adx_period, self.atr_period + 1)
        if self.window < needed:
            raise ValueError(
                f"window={self.window} is too short: lookback={self.lookback}, "
                f"adx_period={self.adx_period} and atr_period={self.atr_period} need {needed}"
            )
        if self.ideal_volatility_low >= self.ideal_volatility_high:
            raise ValueError(
                f"ideal_volatility_low={self.ideal_volatility_low} must be below "
                f"ideal_volatility_high={self.ideal_volatility_high}"
            )
        if self.volume_floor >= self.volume_full:
            raise ValueError(
                f"volume_floor={self.volume_floor:g} must be below volume_full={self.volume_full:g}"
            )
        return self

    def for_timeframe(self, timeframe: str) -> RankerConfig:
        """This config for bars of ``timeframe`` (it sets ``bars_per_day``), e.g.
        ``settings.ranker.for_timeframe("4h")``."""
        from components.market.validation import bars_per_day

        return self.model_copy(update={"bars_per_day": bars_per_day(timeframe)})


class UniverseConfig(ComponentConfig):
    """Entry and exit bars and the size of the active universe.

    The best few of a 24-symbol market score 0.45-0.8 (quiet to trending): a newcomer
    needs a better-than-middling score, an incumbent keeps its place a little below it.
    """

    mode: ModuleMode = ModuleMode.ENFORCED
    min_score: float = Field(0.45, ge=0, le=1, description="Score a newcomer needs.")
    exit_score: float = Field(0.35, ge=0, le=1, description="Score an incumbent keeps.")
    max_size: int = Field(10, ge=0, le=10_000, description="Symbols chosen on score.")

    @model_validator(mode="after")
    def _exit_below_entry(self) -> Self:
        if self.exit_score > self.min_score:
            raise ValueError(
                f"exit_score={self.exit_score} must not be above min_score={self.min_score}"
            )
        return self
