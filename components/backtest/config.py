"""How a backtest trades: starting cash, costs, sizing, sides; frozen and validated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from components.execution.costs import CostModel
from components.execution.exits import ExitRules
from components.pal.config import PalConfig
from components.sizing import SizingConfig

if TYPE_CHECKING:
    from components.settings import Settings

SizingMode = Literal["all_in", "risk"]
"""``all_in``: every entry commits the whole equity (fees included), as backtesting.py's
``buy()``; ``risk``: the Trading Mathematician's :class:`~components.sizing.PositionSizer`."""


class BacktestConfig(BaseModel):
    """Knobs of :class:`~components.backtest.Backtester`; the defaults trade all-in with the
    paper broker's default costs (10 bps fee, 2 bps slippage, 2 bps spread).

    >>> BacktestConfig(cash=5_000, cost_model=CostModel(fee_bps=5), sizing="risk")
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cash: float = Field(10_000.0, gt=0, le=1e15, description="Starting equity, quote currency.")
    cost_model: CostModel = Field(
        default_factory=CostModel, description="Fill prices and fees: the paper broker's model."
    )
    sizing: SizingMode = Field(
        "all_in", description="all_in (whole equity per entry) or risk (PositionSizer)."
    )
    sizer: SizingConfig = Field(
        default_factory=SizingConfig, description="The PositionSizer's knobs (sizing='risk')."
    )
    max_risk_per_trade: float = Field(
        0.01, gt=0, le=1, description="Share of equity a stop-out may lose (sizing='risk')."
    )
    atr_period: int = Field(
        14, ge=1, le=1_000, description="Bars of the ATR the risk sizing reads."
    )
    allow_short: bool = Field(True, description="False: a short signal means flat.")
    exits: ExitRules | None = Field(
        None,
        description="Stop-loss, take-profit and trailing stop, as the paper broker applies "
        "them (components.execution.exits); with sizing='risk' the stop-loss is the sizer's "
        "stop, as on the engine's orders; None: trades end on signals only.",
    )
    pal: PalConfig | None = Field(
        None,
        description="The Profit Amplification Layer; applied when its mode is ENFORCED "
        "(components.backtest.pal), as the engine applies it.",
    )
    periods_per_year: float | None = Field(
        None, gt=0, description="Bars per year for the metrics; None = from the bar spacing."
    )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BacktestConfig:
        """Cash, costs, exits and risk as the paper broker and the policy defaults have
        them: ``QT_PAPER_INITIAL_CASH``, the ``QT_PAPER_*`` costs and stops (the one exit
        model, so a backtest exits as paper trading does) and ``QT_MAX_RISK_PER_TRADE``;
        ``overrides`` win.

        Example: ``BacktestConfig.from_settings(load_settings(), sizing="risk")``.
        """
        values: dict[str, Any] = {
            "cost_model": settings.paper.costs,
            "cash": settings.paper.initial_cash,
            "max_risk_per_trade": settings.policy.max_risk_per_trade,
            "exits": settings.paper.broker.exit_rules,
            "pal": settings.pal,
        }
        return cls(**{**values, **overrides})
