from __future__ import annotations

import pytest

from components.health import HealthStatus
from components.health.check import HealthConfig, HealthInputs, assess_health

CONFIG = HealthConfig()
FINE = {"redis_latency_ms": 0.5, "bus_lag": 3, "market_data_age_s": 30, "heartbeat_age_s": 20}


def verdict(**changes: object) -> object:
    return assess_health(HealthInputs(**{**FINE, **changes}), CONFIG)  # type: ignore[arg-type]


def test_everything_within_bounds_is_healthy() -> None:
    result = verdict()
    assert result.status is HealthStatus.HEALTHY and result.reasons == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "status", "needle"),
    [
        ({"redis_latency_ms": None}, HealthStatus.CRITICAL, "Redis does not answer"),
        ({"redis_latency_ms": 80}, HealthStatus.DEGRADED, "Redis latency"),
        ({"redis_latency_ms": 5_000}, HealthStatus.CRITICAL, "Redis latency"),
        ({"bus_lag": 20_000}, HealthStatus.DEGRADED, "event bus lag"),
        ({"market_data_age_s": 7_200}, HealthStatus.CRITICAL, "market data age"),
        ({"heartbeat_age_s": None}, HealthStatus.DEGRADED, "has not run yet"),
        ({"heartbeat_age_s": 400}, HealthStatus.DEGRADED, "heartbeat"),
        ({"heartbeat_age_s": 4_000}, HealthStatus.CRITICAL, "heartbeat"),
        ({"engine_fail_closed": "policy unreadable"}, HealthStatus.DEGRADED, "fails closed"),
        (
            {"engine_down": "last session crashed at 12:03:05: process gone"},
            HealthStatus.DEGRADED,
            "engine not running: last session crashed at 12:03:05: process gone",
        ),
        ({"new_dead_letters": 2}, HealthStatus.DEGRADED, "dead letters"),
        ({"model_issues": ["one side 97%"]}, HealthStatus.DEGRADED, "model supervisor"),
    ],
)
def test_each_finding_sets_its_status_and_says_why(
    changes: dict[str, object], status: HealthStatus, needle: str
) -> None:
    result = verdict(**changes)
    assert result.status is status  # type: ignore[attr-defined]
    assert any(needle in reason for reason in result.reasons)  # type: ignore[attr-defined]


def test_the_worst_finding_wins() -> None:
    result = verdict(bus_lag=20_000, market_data_age_s=7_200)
    assert result.status is HealthStatus.CRITICAL  # type: ignore[attr-defined]
    assert len(result.reasons) == 2  # type: ignore[attr-defined]
