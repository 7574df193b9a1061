from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from components.alerts import Alert, AlertConfig, Alerter, Outbox, alert_for
from components.events import Event, RedisEventBus
from components.events.types import (
    HEALTH_STATUS_CHANGED,
    POLICY_UPDATED,
    STRATEGY_PROMOTED,
    TRADE_EXECUTED,
)
from components.market import ManualClock
from components.policy import PolicyStore
from components.risk.emergency import EmergencyStop
from components.settings import Settings
from tests.receivers import JsonReceiver, free_port

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[JsonReceiver]:
    server = JsonReceiver()
    yield server
    server.close()


def make_alerter(
    settings: Settings, client: redis.Redis, urls: list[str], clock: ManualClock
) -> Alerter:
    config = AlertConfig(urls=tuple(urls), retry_base=timedelta(seconds=10), timeout_s=2)
    bus = RedisEventBus(client, namespace=settings.namespace)
    return Alerter(
        bus,
        Outbox(client, namespace=settings.namespace),
        namespace=settings.namespace,
        config=config,
        clock=clock,
    )


def test_an_ess_halt_reaches_a_local_apprise_json_receiver(
    settings: Settings, client: redis.Redis, receiver: JsonReceiver
) -> None:
    clock = ManualClock(T0)
    alerter = make_alerter(settings, client, [receiver.url], clock)
    ess = EmergencyStop(client, namespace=settings.namespace)
    ess.halt("drawdown too deep", by="alice")

    assert alerter.step(block_ms=2000) == 1
    [posted] = receiver.received
    assert posted["title"] == f"[{settings.namespace}] Emergency stop HALTED"
    assert "drawdown too deep (by alice)" in posted["message"]
    assert posted["type"] == "failure"
    assert alerter.outbox.pending() == 0

    ess.resume(by="alice", reason="checked")
    alerter.step(block_ms=2000)
    assert receiver.received[-1]["title"].endswith("Emergency stop resumed (was HALTED)")


def test_an_undeliverable_alert_is_logged_and_retried_until_it_arrives(
    settings: Settings, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nobody listens yet
    url = f"json://alice:s3cret-pw@127.0.0.1:{port}/alerts"
    clock = ManualClock(T0)
    alerter = make_alerter(settings, client, [url], clock)
    EmergencyStop(client, namespace=settings.namespace).halt("by hand", by="ops")

    with caplog.at_level(logging.WARNING, logger="components.alerts"):
        assert alerter.step(block_ms=2000) == 0
    assert "failed (attempt 1), retrying in 10s" in caplog.text
    assert "s3cret-pw" not in caplog.text  # the target is named without its credentials
    assert alerter.outbox.pending() == 1

    receiver = JsonReceiver(port=port)
    try:
        assert alerter.deliver_due() == 0  # not due before its backoff
        clock.advance(timedelta(seconds=10))
        assert alerter.deliver_due() == 1
        assert receiver.received[0]["title"].endswith("Emergency stop HALTED")
    finally:
        receiver.close()
    assert alerter.outbox.stats() == {"failed": 1, "sent": 1}


def test_a_target_refusing_for_a_day_is_given_up_with_an_error(
    settings: Settings, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = JsonReceiver(status=500)
    clock = ManualClock(T0)
    try:
        alerter = make_alerter(settings, client, [refusing.url], clock)
        EmergencyStop(client, namespace=settings.namespace, clock=clock).halt("x", by="ops")
        alerter.step(block_ms=2000)
        clock.advance(timedelta(hours=25))
        with caplog.at_level(logging.ERROR, logger="components.alerts"):
            alerter.deliver_due()
    finally:
        refusing.close()
    assert "dropped after 2 attempts" in caplog.text
    assert alerter.outbox.pending() == 0


def test_every_configured_url_gets_the_alert(settings: Settings, client: redis.Redis) -> None:
    first, second = JsonReceiver(), JsonReceiver()
    try:
        alerter = make_alerter(settings, client, [first.url, second.url], ManualClock(T0))
        EmergencyStop(client, namespace=settings.namespace).halt("x", by="ops")
        assert alerter.step(block_ms=2000) == 2
    finally:
        first.close()
        second.close()
    assert len(first.received) == len(second.received) == 1


def test_a_policy_emergency_is_alerted_and_an_ordinary_patch_is_not(
    settings: Settings, client: redis.Redis, receiver: JsonReceiver
) -> None:
    alerter = make_alerter(settings, client, [receiver.url], ManualClock(T0))
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    store.patch({"max_positions": 3}, by="ops", reason="fewer")
    store.patch(
        {"emergency": {"active": True, "reason": "exchange down", "since": T0.isoformat()}},
        by="emergency-response",
        reason="health CRITICAL",
    )
    alerter.step(block_ms=2000)
    assert [r["title"] for r in receiver.received] == [f"[{settings.namespace}] EMERGENCY declared"]
    assert "exchange down" in receiver.received[0]["message"]


def event(event_type: str, payload: dict[str, object]) -> Event:
    return Event.create(event_type, payload, source="test", occurred_at=T0)


@pytest.mark.parametrize(
    ("status", "previous", "title"),
    [
        ("CRITICAL", "HEALTHY", "Health CRITICAL"),
        ("DEGRADED", "CRITICAL", "Health recovered: DEGRADED"),
        ("HEALTHY", "CRITICAL", "Health recovered: HEALTHY"),
        ("DEGRADED", "HEALTHY", None),
        ("HEALTHY", "DEGRADED", None),
    ],
)
def test_health_alerts_on_critical_and_on_recovery_only(
    status: str, previous: str, title: str | None
) -> None:
    found = alert_for(
        event(HEALTH_STATUS_CHANGED, {"status": status, "previous": previous, "reasons": ["r"]}),
        namespace="qt",
    )
    assert (found.title.removeprefix("[qt] ") if found else None) == title


def test_promotions_are_alerted_and_trades_are_not() -> None:
    promoted = alert_for(
        event(
            STRATEGY_PROMOTED,
            {"strategy": "momentum-7", "from_state": "shadow", "to_state": "live",
             "evidence": {"sharpe": 1.234567, "trades": 40}},
        ),
        namespace="qt",
    )  # fmt: skip
    assert isinstance(promoted, Alert)
    assert promoted.title == "[qt] Strategy momentum-7: shadow -> live"
    assert "sharpe 1.235, trades 40" in promoted.body
    trade = event(
        TRADE_EXECUTED,
        {"client_order_id": "x", "symbol": "BTC/USDT", "side": "buy", "quantity": 1,
         "price": 1, "fee": 0},
    )  # fmt: skip
    assert alert_for(trade, namespace="qt") is None
    assert alert_for(event(POLICY_UPDATED, {"version": 2, "previous_version": 1, "by": "a",
                                            "reason": "r", "changes": {}}),
                     namespace="qt") is None  # fmt: skip
