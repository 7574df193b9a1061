"""The settings of the RiskGuard (``settings.risk``; ``QT_RISK__*``, flat ``QT_RISK_*``) and
of the Emergency Stop System (``settings.ess``; ``QT_ESS__*``, flat ``QT_ESS_*``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import Field, model_validator

from components.config import ComponentConfig, Duration, Flat


class RiskConfig(ComponentConfig):
    """Limits of the :class:`~components.risk.guard.RiskGuard`; exposures are multiples of
    equity.

    >>> RiskConfig(max_gross_exposure=1.5, min_notional=5)
    """

    max_gross_exposure: float = Field(
        1.0, gt=0, le=10, description="Sum of |position value| / equity."
    )
    max_net_exposure: float = Field(
        1.0, gt=0, le=10, description="|Sum of position values| / equity."
    )
    max_symbol_exposure: float = Field(
        0.25, gt=0, le=10, description="|One symbol's position value| / equity."
    )
    min_notional: float = Field(
        10.0, ge=0, le=1e9, description="Smallest order worth placing, quote currency."
    )


class EssConfig(ComponentConfig):
    """Trip thresholds and recovery of the
    :class:`~components.risk.emergency.EmergencyStop`; durations take seconds or ISO 8601.

    >>> EssConfig(drawdown_halt=0.15, cooldown=timedelta(hours=1))
    """

    drawdown_halt: float = Field(0.10, gt=0, le=1, description="Drawdown from peak: HALTED.")
    drawdown_reduce: float = Field(0.05, gt=0, le=1, description="Drawdown from peak: REDUCING.")
    daily_loss_reduce: float = Field(
        0.03, gt=0, le=1, description="Loss since the day's first equity: REDUCING."
    )
    max_consecutive_losses: int = Field(
        5, ge=1, le=1000, description="Losing trades in a row: REDUCING for the cool-down."
    )
    bar_length: Annotated[Duration, Flat("QT_ESS_BAR_LENGTH_S")] = Field(
        timedelta(hours=1), description="Length of one bar (for stale data)."
    )
    stale_data_bars: int = Field(
        3, ge=1, le=10_000, description="Data older than this many bars: REDUCING."
    )
    cooldown: Annotated[Duration, Flat("QT_ESS_COOLDOWN_S")] = Field(
        timedelta(minutes=30), description="Soft trips recover after this, once cleared."
    )
    flatten_on_halt: bool = Field(False, description="HALTED also closes every position.")

    @model_validator(mode="after")
    def _check(self) -> EssConfig:
        if self.drawdown_reduce >= self.drawdown_halt:
            raise ValueError(
                f"drawdown_reduce={self.drawdown_reduce} must be below "
                f"drawdown_halt={self.drawdown_halt}"
            )
        return self
