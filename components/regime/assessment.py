"""What the Meta Strategy Controller reads and decides, and how a decision reads.

:class:`MSCInputs` (market, health, performance) and :class:`MSCMemory` go in;
:class:`RegimeAssessment` comes out, with its policy patch and its markdown note. The
rules that turn one into the other are in :mod:`components.regime.controller`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.config import ModuleMode
from components.health.status import HealthStatus
from components.policy.config import ModeLimits, RiskMode
from components.regime.classifier import MarketClassification, StateAssessment
from components.regime.config import MarketState


class HealthSnapshot(BaseModel):
    """System health as the health check last reported it, and since when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: HealthStatus
    since: AwareDatetime
    detail: str | None = None

    @classmethod
    def unchecked(cls, now: datetime) -> HealthSnapshot:
        """Health before any check has run: HEALTHY since ``now``."""
        return cls(status=HealthStatus.HEALTHY, since=now, detail="no health check yet")


class PerformanceSnapshot(BaseModel):
    """Recent trading performance, e.g. over the last 7 days.

    ``pnl_pct`` and ``drawdown`` are fractions (-0.03 = -3%; 0.12 = 12% below the peak).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pnl_pct: float = Field(ge=-1, le=100)
    win_rate: float | None = Field(None, ge=0, le=1)
    drawdown: float = Field(0.0, ge=0, le=1)
    trades: int = Field(0, ge=0)


class MSCInputs(BaseModel):
    """What one evaluation weighs: the market, system health and recent performance
    (``None`` when there is no record yet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: StateAssessment
    health: HealthSnapshot
    performance: PerformanceSnapshot | None = None
    symbols: dict[str, StateAssessment] = Field(default_factory=dict)

    @classmethod
    def of(
        cls,
        classification: MarketClassification,
        health: HealthSnapshot,
        performance: PerformanceSnapshot | None,
    ) -> MSCInputs:
        """The inputs of one evaluation of the market ``classification``."""
        return cls(
            market=classification.market,
            health=health,
            performance=performance,
            symbols=classification.symbols,
        )


class MSCMemory(BaseModel):
    """What the controller carries from one evaluation to the next (stored as JSON)."""

    # Unknown keys from an older or newer release are ignored rather than refused, so a
    # stored memory never blocks an evaluation.
    model_config = ConfigDict(frozen=True, extra="ignore")

    mode: RiskMode
    relax_streak: int = Field(0, ge=0, description="Evaluations in a row pointing away.")
    emergency_active: bool = False
    emergency_reason: str | None = None
    emergency_since: AwareDatetime | None = None
    last_unhealthy_at: AwareDatetime | None = None
    evaluated_at: AwareDatetime


class EmergencyStatus(BaseModel):
    """The emergency part of a decision, shaped like the policy's ``emergency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active: bool = False
    reason: str | None = None
    since: AwareDatetime | None = None


class RegimeAssessment(BaseModel):
    """One MSC decision: the mode, its limits, the allowed strategies and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evaluated_at: AwareDatetime
    risk_mode: RiskMode
    previous_mode: RiskMode = Field(description="The mode before (the initial mode at first).")
    changed: bool
    indicated_mode: RiskMode = Field(description="What the inputs pointed to, before hysteresis.")
    market_state: StateAssessment
    symbol_states: dict[str, StateAssessment] = Field(default_factory=dict)
    limits: ModeLimits
    allowed_strategies: tuple[str, ...]
    emergency: EmergencyStatus
    drivers: tuple[str, ...]
    memory: MSCMemory

    def policy_patch(self) -> dict[str, Any]:
        """The changes to patch into the ``GlobalPolicy`` (plain JSON types)."""
        since = self.emergency.since
        return {
            "risk_mode": self.risk_mode.value,
            **self.limits.policy_changes(),
            "allowed_strategies": list(self.allowed_strategies),
            "emergency": {
                "active": self.emergency.active,
                "reason": self.emergency.reason,
                "since": since.isoformat() if since is not None else None,
            },
        }

    def render_markdown(self) -> str:
        """A markdown note of the decision and its drivers, for a Prefect artifact."""
        market = self.market_state
        if self.changed:
            headline = f"{self.previous_mode.value} -> **{self.risk_mode.value}**"
        else:
            headline = f"**{self.risk_mode.value}** (unchanged)"
        direction = {1: "up", -1: "down", 0: "flat"}[market.direction]
        lines = [
            "# Meta Strategy Controller",
            "",
            f"**Risk mode:** {headline}  ",
            f"**Inputs indicated:** {self.indicated_mode.value}  ",
            f"**Evaluated at:** {self.evaluated_at.isoformat()}  ",
            f"**Market:** {market.state.value}: volatility {market.volatility:.2%}/day, "
            f"trend strength {market.trend_strength:.2f}, direction {direction}  ",
        ]
        if self.emergency.active:
            since = self.emergency.since.isoformat() if self.emergency.since else "unknown"
            lines.append(f"**Emergency:** ACTIVE since {since}: {_cell(self.emergency.reason)}")
        else:
            lines.append("**Emergency:** none")
        strategies = ", ".join(self.allowed_strategies) or "none"
        lines += [
            "",
            "| limit | value |",
            "|---|---|",
            f"| max risk per trade | {self.limits.max_risk_per_trade:.2%} |",
            f"| max positions | {self.limits.max_positions} |",
            f"| global min confidence | {self.limits.global_min_confidence:.2f} |",
            f"| allowed strategies | {strategies} |",
            "",
            "## Drivers",
            "",
            "| # | driver |",
            "|---|---|",
        ]
        lines += [f"| {i} | {_cell(text)} |" for i, text in enumerate(self.drivers, start=1)]
        if self.symbol_states:
            lines += [
                "",
                "## Symbols",
                "",
                "| symbol | state | volatility/day | trend strength | direction |",
                "|---|---|---|---|---|",
            ]
            for name in sorted(self.symbol_states):
                s = self.symbol_states[name]
                lines.append(
                    f"| {_cell(name)} | {s.state.value} | {s.volatility:.2%} | "
                    f"{s.trend_strength:.2f} | {s.direction:+d} |"
                )
        return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


class MSCReport(BaseModel):
    """One run of the msc-evaluation flow: the decision, in which module mode, and the
    policy version it wrote (``mode`` OFF: nothing else is set). The flow's artifact is
    :meth:`render_markdown`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModuleMode
    assessment: RegimeAssessment | None = None
    policy_version: int | None = None

    @property
    def risk_mode(self) -> RiskMode | None:
        return self.assessment.risk_mode if self.assessment else None

    @property
    def market_state(self) -> MarketState | None:
        return self.assessment.market_state.state if self.assessment else None

    def render_markdown(self) -> str:
        """The decision's note, marked when the policy was left alone (OBSERVE)."""
        if self.assessment is None:
            return f"# Meta Strategy Controller\n\nQT_MSC_MODE={self.mode.value}: not evaluated.\n"
        note = (
            ""
            if self.mode is ModuleMode.ENFORCED
            else "\n\n_Observe mode: the policy was left alone._"
        )
        return self.assessment.render_markdown() + note
