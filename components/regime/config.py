"""The settings of the Meta Strategy Controller (``settings.msc``; ``QT_MSC__*``, flat
``QT_MSC_*``), whose volatility and trend thresholds the regime classifier shares, and the
market states both speak of."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from components.config import ComponentConfig, ModuleMode
from components.policy.config import RiskMode


class MarketState(StrEnum):
    BULL_STRONG = "BULL_STRONG"
    BULL_WEAK = "BULL_WEAK"
    BEAR_STRONG = "BEAR_STRONG"
    BEAR_WEAK = "BEAR_WEAK"
    SIDEWAYS_TIGHT = "SIDEWAYS_TIGHT"
    SIDEWAYS_WIDE = "SIDEWAYS_WIDE"
    VOLATILE = "VOLATILE"
    CHOPPY = "CHOPPY"


STRATEGY_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

DEFAULT_ALLOWED_STRATEGIES: dict[MarketState, tuple[str, ...]] = {
    MarketState.BULL_STRONG: ("trend_following", "momentum", "breakout"),
    MarketState.BEAR_STRONG: ("trend_following", "momentum", "breakout"),
    MarketState.BULL_WEAK: ("trend_following", "momentum"),
    MarketState.BEAR_WEAK: ("trend_following",),
    MarketState.SIDEWAYS_TIGHT: ("mean_reversion", "breakout"),
    MarketState.SIDEWAYS_WIDE: ("mean_reversion",),
    # Restrictive: only the slowest, stop-protected kind in a volatile market, only
    # fading the swings in a choppy one.
    MarketState.VOLATILE: ("trend_following",),
    MarketState.CHOPPY: ("mean_reversion",),
}


class MSCConfig(ComponentConfig):
    """Thresholds and hysteresis of the
    :class:`~components.regime.controller.MetaStrategyController` (``settings.msc``;
    ``QT_MSC__*``, flat ``QT_MSC_*``); the limits it applies are ``settings.limits``."""

    mode: ModuleMode = ModuleMode.ENFORCED
    high_volatility: float = Field(0.05, gt=0, le=10, description="Daily vol: unfavourable.")
    low_volatility: float = Field(0.015, gt=0, le=10, description="Daily vol: tight below.")
    strong_trend: float = Field(0.7, gt=0, le=1, description="Trend strength: favourable.")
    allowed_strategies: dict[MarketState, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_ALLOWED_STRATEGIES),
        description="Strategies allowed per market state.",
    )
    relax_after: int = Field(
        2, ge=1, le=1000, description="Consecutive evaluations to step away from DEFENSIVE."
    )
    emergency_clear_minutes: float = Field(
        30, ge=0, le=10_080, description="HEALTHY this long (minutes) clears an emergency."
    )
    degraded_max_mode: RiskMode = Field(
        RiskMode.NORMAL, description="The least defensive mode while health is DEGRADED."
    )
    max_drawdown: float = Field(0.10, gt=0, le=1, description="Drawdown: unfavourable.")
    poor_pnl: float = Field(-0.02, ge=-1, le=1, description="Rolling PnL: unfavourable.")
    min_win_rate: float = Field(0.40, ge=0, le=1, description="Win rate: unfavourable below.")
    min_trades: int = Field(10, ge=0, le=1_000_000, description="Trades to judge a record.")

    @field_validator("allowed_strategies")
    @classmethod
    def _every_state_is_mapped(
        cls, value: dict[MarketState, tuple[str, ...]]
    ) -> dict[MarketState, tuple[str, ...]]:
        missing = [state.value for state in MarketState if state not in value]
        if missing:
            raise ValueError(f"allowed strategies for {', '.join(missing)} are missing")
        for state, names in value.items():
            bad = [n for n in names if not re.match(STRATEGY_NAME_PATTERN, n)]
            if bad:
                raise ValueError(
                    f"{state.value}: strategy names {bad} must match {STRATEGY_NAME_PATTERN}"
                )
        return value

    @model_validator(mode="after")
    def _low_below_high(self) -> MSCConfig:
        if self.low_volatility >= self.high_volatility:
            raise ValueError(
                f"low_volatility={self.low_volatility} must be below "
                f"high_volatility={self.high_volatility}"
            )
        return self

    @property
    def emergency_clear_after(self) -> timedelta:
        """``emergency_clear_minutes`` as a duration."""
        return timedelta(minutes=self.emergency_clear_minutes)
