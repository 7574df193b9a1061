"""What a run of the health-check flow reports: :class:`HealthReport`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from components.health.modules import ModeChange
from components.health.status import HealthStatus


class HealthReport(BaseModel):
    """The verdict, whether it changed, why, and the modules whose mode moved this run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: HealthStatus
    changed: bool
    reasons: list[str] = Field(default_factory=list)
    modules: list[ModeChange] = Field(default_factory=list)

    def summary(self) -> str:
        """``"health DEGRADED: the engine has not run yet"``."""
        return f"health {self.status.value}: {'; '.join(self.reasons) or 'all checks pass'}"
