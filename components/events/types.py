"""Payload models of every event type, registered on import.

Each model is frozen and forbids unknown fields, so a producer's typo fails at publish
time instead of confusing a consumer later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from components.events.models import register_event_type

POLICY_UPDATED = "policy.updated"
OPPORTUNITIES_UPDATED = "opportunities.updated"
UNIVERSE_UPDATED = "universe.updated"
REGIME_ASSESSED = "regime.assessed"
HEALTH_STATUS_CHANGED = "health.status_changed"
STRATEGY_PROMOTED = "strategy.promoted"
MODEL_PROMOTED = "model.promoted"
TRADE_EXECUTED = "trade.executed"
ORDER_REJECTED = "order.rejected"
ESS_STATE_CHANGED = "ess.state_changed"
MODULE_MODE_CHANGED = "module.mode_changed"

DecisionMode = Literal["enforced", "observe"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValueChange(_Payload):
    old: Any = None
    new: Any = None


class PolicyUpdated(_Payload):
    version: int = Field(ge=1)
    previous_version: int = Field(ge=0)
    by: str
    reason: str
    changes: dict[str, ValueChange]


class OpportunitiesUpdated(_Payload):
    mode: DecisionMode = "enforced"
    rankings: dict[str, float]
    top: list[str]
    filtered: dict[str, str] = {}
    policy_version: int | None = None


class UniverseUpdated(_Payload):
    mode: DecisionMode = "enforced"
    symbols: list[str]
    added: list[str] = []
    removed: list[str] = []
    reasons: dict[str, str] = {}
    policy_version: int | None = None


class RegimeAssessed(_Payload):
    mode: DecisionMode = "enforced"
    risk_mode: str
    previous_mode: str | None = None
    market_state: str
    emergency: bool = False
    drivers: list[str] = []
    policy_version: int | None = None


class HealthStatusChanged(_Payload):
    status: Literal["HEALTHY", "DEGRADED", "CRITICAL"]
    previous: Literal["HEALTHY", "DEGRADED", "CRITICAL"] | None = None
    reasons: list[str] = []
    checks: dict[str, Any] = {}


class StrategyPromoted(_Payload):
    strategy: str
    from_state: Literal["shadow", "live", "retired"] | None = None
    to_state: Literal["shadow", "live", "retired"]
    evidence: dict[str, Any] = {}


class ModelPromoted(_Payload):
    model: str
    version: str
    previous_version: str | None = None
    action: Literal["promoted", "rolled_back"] = "promoted"
    metrics: dict[str, float] = {}


class TradeExecuted(_Payload):
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float = Field(gt=0)
    price: float = Field(gt=0)
    fee: float = Field(ge=0)
    strategy: str | None = None
    realized_pnl: float = 0.0
    filled_at: datetime | None = None


class OrderRejected(_Payload):
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float = Field(ge=0)
    reason: str
    check: str | None = None
    strategy: str | None = None


class EssStateChanged(_Payload):
    state: Literal["ACTIVE", "REDUCING", "HALTED"]
    previous: Literal["ACTIVE", "REDUCING", "HALTED"] | None = None
    reason: str
    by: str


class ModuleModeChanged(_Payload):
    """A decision module's effective mode changed: the health check held it back after
    failed runs, let it go after good ones, or a person restored it."""

    module: str
    previous: Literal["OFF", "OBSERVE", "ENFORCED"]
    mode: Literal["OFF", "OBSERVE", "ENFORCED"]
    configured: Literal["OFF", "OBSERVE", "ENFORCED"]
    reason: str
    by: str


_TYPES: dict[str, type[BaseModel]] = {
    POLICY_UPDATED: PolicyUpdated,
    OPPORTUNITIES_UPDATED: OpportunitiesUpdated,
    UNIVERSE_UPDATED: UniverseUpdated,
    REGIME_ASSESSED: RegimeAssessed,
    HEALTH_STATUS_CHANGED: HealthStatusChanged,
    STRATEGY_PROMOTED: StrategyPromoted,
    MODEL_PROMOTED: ModelPromoted,
    TRADE_EXECUTED: TradeExecuted,
    ORDER_REJECTED: OrderRejected,
    ESS_STATE_CHANGED: EssStateChanged,
    MODULE_MODE_CHANGED: ModuleModeChanged,
}
for _type, _model in _TYPES.items():
    register_event_type(_type, _model)
