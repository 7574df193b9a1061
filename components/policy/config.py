"""The settings of the policy: its defaults before the first write, the guardrails no
writer passes, and the limits that go with each risk mode (``settings.policy``,
``settings.guardrails``, ``settings.limits``)."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator

from components.config import ComponentConfig, Flat
from components.errors import PolicyValidationError

if TYPE_CHECKING:
    from components.policy.model import GlobalPolicy


class RiskMode(StrEnum):
    AGGRESSIVE = "AGGRESSIVE"
    NORMAL = "NORMAL"
    DEFENSIVE = "DEFENSIVE"


class PolicyDefaults(ComponentConfig):
    """What the PolicyStore holds before its first write, and how much history it keeps."""

    risk_mode: RiskMode = RiskMode.NORMAL
    max_risk_per_trade: float = Field(0.01, gt=0, le=1)
    max_positions: int = Field(5, ge=0, le=1000)
    confidence_threshold: float = Field(
        0.70, ge=0, le=1, description="Default global_min_confidence."
    )
    history_limit: Annotated[int, Flat("QT_POLICY_HISTORY_LIMIT")] = Field(
        10_000, ge=10, le=1_000_000, description="History entries (and rollback points) kept."
    )


class Guardrails(ComponentConfig):
    """Hard caps no component, human or AI, can write past."""

    max_risk_cap: float = Field(0.05, gt=0, le=1)
    max_positions_cap: int = Field(50, ge=0, le=1000)
    min_confidence_floor: float = Field(0.5, ge=0, le=1)

    def check(self, policy: GlobalPolicy) -> None:
        """Raise :class:`PolicyValidationError` naming the first field past its guardrail."""
        if policy.max_risk_per_trade > self.max_risk_cap:
            raise PolicyValidationError(
                "max_risk_per_trade",
                f"{policy.max_risk_per_trade} exceeds the guardrail "
                f"QT_MAX_RISK_CAP={self.max_risk_cap}",
            )
        if policy.max_positions > self.max_positions_cap:
            raise PolicyValidationError(
                "max_positions",
                f"{policy.max_positions} exceeds the guardrail "
                f"QT_MAX_POSITIONS_CAP={self.max_positions_cap}",
            )
        if policy.global_min_confidence < self.min_confidence_floor:
            raise PolicyValidationError(
                "global_min_confidence",
                f"{policy.global_min_confidence} is below the guardrail "
                f"QT_MIN_CONFIDENCE_FLOOR={self.min_confidence_floor}",
            )


class ModeLimits(ComponentConfig):
    """The policy limits that go with one risk mode."""

    max_risk_per_trade: float = Field(gt=0, le=1)
    max_positions: int = Field(ge=0, le=1000)
    global_min_confidence: Annotated[float, Flat(segment="min_confidence")] = Field(ge=0, le=1)

    def policy_changes(self) -> dict[str, Any]:
        """These limits as a policy patch."""
        return self.model_dump()


class RiskLimits(ComponentConfig):
    """The limits of each risk mode; a more defensive mode never allows more.

    ``limits[RiskMode.DEFENSIVE]`` is ``limits.defensive``.
    """

    aggressive: ModeLimits = ModeLimits(
        max_risk_per_trade=0.02, max_positions=10, global_min_confidence=0.65
    )
    normal: ModeLimits = ModeLimits(
        max_risk_per_trade=0.01, max_positions=5, global_min_confidence=0.70
    )
    defensive: ModeLimits = ModeLimits(
        max_risk_per_trade=0.005, max_positions=3, global_min_confidence=0.75
    )

    def __getitem__(self, mode: RiskMode) -> ModeLimits:
        limits: ModeLimits = getattr(self, RiskMode(mode).value.lower())
        return limits

    @model_validator(mode="after")
    def _tighter_when_more_defensive(self) -> RiskLimits:
        order = (RiskMode.AGGRESSIVE, RiskMode.NORMAL, RiskMode.DEFENSIVE)
        for looser, tighter in itertools.pairwise(order):
            a, b = self[looser], self[tighter]
            for name, ok in (
                ("max_risk_per_trade", b.max_risk_per_trade <= a.max_risk_per_trade),
                ("max_positions", b.max_positions <= a.max_positions),
                ("global_min_confidence", b.global_min_confidence >= a.global_min_confidence),
            ):
                if not ok:
                    raise ValueError(
                        f"{tighter.value} {name}={getattr(b, name)} is looser than "
                        f"{looser.value} {name}={getattr(a, name)}"
                    )
        return self
