"""The health check's verdict: HEALTHY, DEGRADED or CRITICAL, from what it measured.

Each input is compared with a warning and a critical threshold; the worst wins, and
every finding gives a reason. A measurement that could not be taken (Redis did not
answer) is CRITICAL: the system cannot trade safely without its store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from components.health.status import HealthStatus

if TYPE_CHECKING:
    from components.settings import Settings

_ORDER = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.CRITICAL: 2}


class HealthConfig(BaseModel):
    """Thresholds; ages are in seconds.

    >>> HealthConfig(heartbeat_critical_s=900)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_latency_warn_ms: float = Field(50, gt=0)
    redis_latency_critical_ms: float = Field(1_000, gt=0)
    bus_lag_warn: int = Field(10_000, ge=0, description="Events not yet acknowledged.")
    bus_lag_critical: int = Field(500_000, ge=0)
    data_age_warn_s: float = Field(900, gt=0, description="Age of the newest closed bar.")
    data_age_critical_s: float = Field(3_600, gt=0)
    heartbeat_warn_s: float = Field(300, gt=0, description="Since the engine's last cycle.")
    heartbeat_critical_s: float = Field(1_800, gt=0)
    dead_letters_warn: int = Field(1, ge=1, description="New dead letters since the last check.")
    module_failures_to_observe: int = Field(
        3, ge=1, le=100, description="Failed runs in a row that put a module into OBSERVE."
    )
    module_good_runs_to_restore: int = Field(
        3, ge=1, le=100, description="Good runs in OBSERVE that give it its mode back."
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthConfig:
        """Data-age thresholds follow the engine's bar length (3 bars warn, 12 critical,
        at least 15 minutes and 1 hour); heartbeat ones its cycle interval."""
        from components.market.validation import timeframe_delta

        bar = timeframe_delta(settings.engine.timeframe).total_seconds()
        interval = settings.engine.interval_s
        return cls(
            data_age_warn_s=max(900.0, 3 * bar),
            data_age_critical_s=max(3_600.0, 12 * bar),
            heartbeat_warn_s=max(300.0, 5 * interval),
            heartbeat_critical_s=max(1_800.0, 30 * interval),
        )


class HealthInputs(BaseModel):
    """What the health check measured; None where it could not (or need not) measure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_latency_ms: float | None = Field(description="None: Redis did not answer.")
    bus_lag: int | None = None
    market_data_age_s: float | None = None
    heartbeat_age_s: float | None = Field(None, description="None: the engine never ran.")
    engine_fail_closed: str | None = Field(None, description="The last cycle's fail-closed.")
    engine_down: str | None = Field(
        None,
        description="Why the engine is not running (None: running, between sessions, or unknown).",
    )
    new_dead_letters: int = 0
    model_issues: list[str] = Field(default_factory=list, description="Model Supervisor's.")
    modules_held_back: dict[str, str] = Field(
        default_factory=dict, description="Modules the health check holds in OBSERVE, and why."
    )


class HealthAssessment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: HealthStatus
    reasons: list[str]
    checks: dict[str, Any]


def assess_health(inputs: HealthInputs, config: HealthConfig | None = None) -> HealthAssessment:
    """The verdict for ``inputs`` (the worst finding wins; each finding gives a reason).

    >>> assess_health(HealthInputs(redis_latency_ms=0.3)).status
    <HealthStatus.HEALTHY: 'HEALTHY'>
    """
    config = config or HealthConfig()
    findings: list[tuple[HealthStatus, str]] = []

    def grade(value: float | None, warn: float, critical: float, what: str, unit: str) -> None:
        if value is None:
            return
        for status, bar in ((HealthStatus.CRITICAL, critical), (HealthStatus.DEGRADED, warn)):
            if value >= bar:
                findings.append((status, f"{what} {value:,.0f}{unit} >= {bar:,.0f}{unit}"))
                return

    if inputs.redis_latency_ms is None:
        findings.append((HealthStatus.CRITICAL, "Redis does not answer"))
    latency = inputs.redis_latency_ms
    grade(
        latency,
        config.redis_latency_warn_ms,
        config.redis_latency_critical_ms,
        "Redis latency",
        " ms",
    )
    grade(inputs.bus_lag, config.bus_lag_warn, config.bus_lag_critical, "event bus lag", "")
    age = inputs.market_data_age_s
    grade(age, config.data_age_warn_s, config.data_age_critical_s, "market data age", " s")
    if inputs.heartbeat_age_s is None:
        findings.append((HealthStatus.DEGRADED, "the engine has not run yet"))
    beat = inputs.heartbeat_age_s
    grade(beat, config.heartbeat_warn_s, config.heartbeat_critical_s, "engine heartbeat age", " s")
    if inputs.engine_down:
        findings.append((HealthStatus.DEGRADED, f"engine not running: {inputs.engine_down}"))
    if inputs.engine_fail_closed:
        reason = f"engine fails closed: {inputs.engine_fail_closed}"
        findings.append((HealthStatus.DEGRADED, reason))
    if inputs.new_dead_letters >= config.dead_letters_warn:
        findings.append((HealthStatus.DEGRADED, f"{inputs.new_dead_letters} new dead letters"))

    findings += [
        (HealthStatus.DEGRADED, f"model supervisor: {issue}") for issue in inputs.model_issues
    ]
    findings += [
        (HealthStatus.DEGRADED, f"module {name} held in OBSERVE: {why}")
        for name, why in sorted(inputs.modules_held_back.items())
    ]
    status = max((s for s, _ in findings), key=_ORDER.__getitem__, default=HealthStatus.HEALTHY)
    return HealthAssessment(
        status=status,
        reasons=[reason for _, reason in findings],
        checks=inputs.model_dump(),
    )
