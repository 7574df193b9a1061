"""Self-healing, run for real: a decision flow failing under Prefect three times is held
in OBSERVE by the health-check flow, decides without steering while it runs well, and
gets its configured mode back after three good runs."""

from __future__ import annotations

import pytest
import redis

from components.errors import DataError
from components.events import RedisEventBus
from components.health.modules import ModuleModes
from components.market import ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.settings import ModuleMode, Settings
from tasks.runtime import use_market
from tests.builders import T0
from tests.integration.test_decision_flows import CorruptMarket

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")


def test_a_failing_ranking_flow_is_held_in_observe_and_comes_back_after_three_good_runs(
    settings: Settings, client: redis.Redis
) -> None:
    from flows.health_check import health_check
    from flows.opportunity_ranking import opportunity_ranking

    clock = ManualClock(T0.replace(month=3))
    use_market(settings, CorruptMarket(seed=7, clock=clock), clock)
    for _ in range(3):
        with pytest.raises(DataError):
            opportunity_ranking()

    checked = health_check()

    modes = ModuleModes(client, namespace=settings.namespace)
    assert modes.effective(settings, "ranker") is ModuleMode.OBSERVE
    [change] = checked.modules
    assert (change.module, change.mode) == ("ranker", "OBSERVE")
    assert "3 failed runs in a row; the last:" in change.reason and "ETH/USDT" in change.reason
    assert any("module ranker held in OBSERVE" in reason for reason in checked.reasons)
    bus = RedisEventBus(client, namespace=settings.namespace)
    [event] = bus.tail("module.mode_changed")
    assert event.payload.by == "health-check"  # type: ignore[attr-defined]

    use_market(settings, SyntheticMarket(seed=7, clock=clock), clock)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    for _ in range(3):
        assert opportunity_ranking().mode == "OBSERVE"
    assert store.get().version == 0  # observed: decided and announced, the policy untouched
    assert [e.payload.mode for e in bus.tail("opportunities.updated", count=10)] == ["observe"] * 3  # type: ignore[attr-defined]

    back = health_check()

    assert [(c.module, c.mode) for c in back.modules] == [("ranker", "ENFORCED")]
    assert opportunity_ranking().mode == "ENFORCED"
    assert store.get().version == 1
    assert [e.payload.mode for e in bus.tail("module.mode_changed", count=10)] == [  # type: ignore[attr-defined]
        "OBSERVE",
        "ENFORCED",
    ]
