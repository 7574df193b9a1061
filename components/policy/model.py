"""The global risk policy every part of Quantum Trader obeys, and its guardrails."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from components.errors import PolicyValidationError
from components.policy.config import Guardrails as Guardrails
from components.policy.config import PolicyDefaults, RiskMode

DEFAULT_STRATEGIES = ("momentum", "mean_reversion", "trend_following", "breakout")
# The Continuous Learning Manager's strategy (``components.learning.strategy.MLStrategy``),
# named here so that checking a policy's strategy names does not load the learning stack.
ML_STRATEGY = "ml"

# Strict leaves: a policy value is never coerced ("yes" is not a boolean, "7" not an
# integer, "0.5" not a number); floats are finite (the model refuses NaN and infinities).
StrictBool = Annotated[bool, Strict()]
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]  # an int is a number too: 1 is 1.0
StrictStr = Annotated[str, Strict()]
Score = Annotated[float, Strict(), Field(ge=0, le=1)]

# Fields the store maintains; a patch may not set them.
META_FIELDS = frozenset({"version", "updated_at", "updated_by"})


class StrategyState(StrEnum):
    SHADOW = "shadow"
    LIVE = "live"
    RETIRED = "retired"


class Emergency(BaseModel):
    """Set by the Meta Strategy Controller or the emergency-response flow; while active,
    the engine opens nothing new."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active: StrictBool = False
    reason: StrictStr | None = None
    since: datetime | None = None


class GlobalPolicy(BaseModel):
    """What the scheduled pipelines decide and the engine trades on.

    ``version`` grows by exactly one per write; ``updated_at``/``updated_by`` say who
    wrote last. Maps (``opp_rankings``, ``model_versions``, ``strategy_states``) merge
    key by key under :meth:`PolicyStore.patch`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    risk_mode: RiskMode = RiskMode.NORMAL
    allowed_strategies: list[StrictStr] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    blocked_strategies: list[StrictStr] = Field(default_factory=list)
    global_min_confidence: StrictFloat = Field(0.70, ge=0, le=1)
    max_risk_per_trade: StrictFloat = Field(0.01, gt=0, le=1)
    max_positions: StrictInt = Field(5, ge=0, le=1000)
    stop_all_trading: StrictBool = False
    emergency: Emergency = Field(default_factory=Emergency)
    opp_rankings: dict[str, Score] = Field(default_factory=dict)  # the ranker's totals
    active_universe: list[StrictStr] = Field(default_factory=list)
    model_versions: dict[str, StrictStr] = Field(default_factory=dict)
    strategy_states: dict[str, StrategyState] = Field(default_factory=dict)
    version: StrictInt = Field(0, ge=0)
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def defaults(cls, settings: PolicyDefaults) -> GlobalPolicy:
        """The policy before its first write (version 0), e.g.
        ``GlobalPolicy.defaults(settings.policy)``."""
        return cls(
            risk_mode=settings.risk_mode,
            global_min_confidence=settings.confidence_threshold,
            max_risk_per_trade=settings.max_risk_per_trade,
            max_positions=settings.max_positions,
        )

    def trading_allowed(self) -> bool:
        """False when the policy forbids opening anything new."""
        return not (self.stop_all_trading or self.emergency.active)

    def strategy_allowed(self, name: str) -> bool:
        return name in self.allowed_strategies and name not in self.blocked_strategies

    def strategy_names(self) -> set[str]:
        """Every strategy the policy names: allowed, blocked, or with a state."""
        return {*self.allowed_strategies, *self.blocked_strategies, *self.strategy_states}


class PolicyChange(BaseModel):
    """One entry of the policy history: who changed what, when and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int
    by: str
    reason: str
    at: datetime
    diff: dict[str, dict[str, Any]]


def validate_policy(data: dict[str, Any]) -> GlobalPolicy:
    """Build a policy from plain data, turning pydantic's error into one that names the field."""
    try:
        return GlobalPolicy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "policy"
        if error["type"] == "extra_forbidden":
            known = ", ".join(f for f in GlobalPolicy.model_fields if f not in META_FIELDS)
            raise PolicyValidationError(field, f"is not a policy field (known: {known})") from None
        raise PolicyValidationError(
            field, f"{error.get('input')!r} is invalid: {error['msg']}"
        ) from None
