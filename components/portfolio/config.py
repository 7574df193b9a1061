"""The settings of the Portfolio Balancer (``settings.balancer``; ``QT_BALANCER__*``, flat
``QT_BALANCER_*``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.config import ComponentConfig, ModuleMode
from components.policy.config import RiskMode


class BalancerConfig(ComponentConfig):
    """Targets and tolerances of the
    :class:`~components.portfolio.balancer.PortfolioBalancer`; weights are fractions of
    equity, gross targets multiples of it.

    >>> BalancerConfig(max_weight=0.2, drift_tolerance=0.05)
    """

    mode: ModuleMode = ModuleMode.ENFORCED
    aggressive_gross: float = Field(1.0, ge=0, le=10, description="Gross target, AGGRESSIVE.")
    normal_gross: float = Field(0.7, ge=0, le=10, description="Gross target, NORMAL.")
    defensive_gross: float = Field(0.3, ge=0, le=10, description="Gross target, DEFENSIVE.")
    max_weight: float = Field(0.25, gt=0, le=1, description="Largest weight of one symbol.")
    drift_tolerance: float = Field(
        0.02, ge=0, le=1, description="Rebalance a symbol only beyond this weight drift."
    )
    min_order_notional: float = Field(
        10.0, ge=0, le=1e9, description="Skip rebalance orders worth less (quote currency)."
    )

    @property
    def gross_targets(self) -> dict[RiskMode, float]:
        """Gross exposure target per risk mode."""
        return {
            RiskMode.AGGRESSIVE: self.aggressive_gross,
            RiskMode.NORMAL: self.normal_gross,
            RiskMode.DEFENSIVE: self.defensive_gross,
        }

    @model_validator(mode="after")
    def _ordered_targets(self) -> BalancerConfig:
        if not self.defensive_gross <= self.normal_gross <= self.aggressive_gross:
            raise ValueError(
                "gross targets must grow DEFENSIVE <= NORMAL <= AGGRESSIVE, got "
                + ", ".join(f"{mode.value}={v}" for mode, v in self.gross_targets.items())
            )
        return self
