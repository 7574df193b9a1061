"""health-check and emergency-response, run for real under a Prefect server."""

from __future__ import annotations

import pytest
import redis

from components.events import RedisEventBus
from components.market import ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.risk.emergency import EmergencyStop
from components.settings import Settings
from tasks.runtime import use_market
from tests.builders import T0

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")


def test_health_check_announces_a_status_only_when_it_changes(
    settings: Settings, client: redis.Redis
) -> None:
    from flows.health_check import health_check

    market = SyntheticMarket(seed=7, clock=ManualClock(T0))
    use_market(settings, market, market.clock)
    first = health_check()
    second = health_check()

    assert first.status == "DEGRADED" and first.changed
    assert "the engine has not run yet" in first.reasons
    assert second == first.model_copy(update={"changed": False})
    (event,) = RedisEventBus(client, namespace=settings.namespace).tail("health.status_changed")
    assert event.payload.status == "DEGRADED"  # type: ignore[attr-defined]


def test_emergency_response_goes_defensive_with_the_flag_and_halts_the_ess(
    settings: Settings, client: redis.Redis
) -> None:
    from flows.emergency_response import emergency_response

    result = emergency_response(reason="health CRITICAL: Redis latency 1,500 ms")

    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert policy.risk_mode.value == "DEFENSIVE"
    assert policy.emergency.active and policy.emergency.reason == result.reason
    assert (policy.max_risk_per_trade, policy.max_positions) == (0.005, 3)
    assert not policy.trading_allowed()
    ess = EmergencyStop(client, namespace=settings.namespace).status()
    assert ess.state.value == "HALTED" and result.ess_state == "HALTED"
    bus = RedisEventBus(client, namespace=settings.namespace)
    assert bus.tail("ess.state_changed")[0].payload.state == "HALTED"  # type: ignore[attr-defined]
    assert bus.tail("policy.updated")[0].source == "emergency-response"


def test_emergency_response_gives_the_reason_of_the_critical_event_that_triggered_it(
    settings: Settings, client: redis.Redis
) -> None:
    from datetime import UTC, datetime

    from components.health import HealthStatus, HealthStore
    from flows.emergency_response import emergency_response

    store = HealthStore(client, namespace=settings.namespace)
    store.record(HealthStatus.CRITICAL, now=datetime.now(UTC), reasons=["Redis latency 1,500 ms"])
    store.record(HealthStatus.HEALTHY, now=datetime.now(UTC))  # a later check, before it ran

    result = emergency_response()

    assert result.reason == "health CRITICAL: Redis latency 1,500 ms"
    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert policy.emergency.reason == result.reason
