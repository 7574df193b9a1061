"""A refused intent is announced once, and again only when its reason changes."""

from __future__ import annotations

import redis

from components.engine.refusals import StandingRefusals, reason_key
from components.risk import RiskCheck, RiskDecision
from tests.unit.risk.builders import intent

BTC = intent(client_order_id="trend:BTC/USDT:20260302T0005:open")
ETH = intent("ETH/USDT", client_order_id="trend:ETH/USDT:20260302T0005:open")


def below_minimum(order: object, notional: float) -> RiskDecision:
    return RiskDecision.deny(
        order,  # type: ignore[arg-type]
        f"notional {notional:,.2f} is below the minimum 25.00",
        RiskCheck.MIN_NOTIONAL,
    )


def announce(refusals: StandingRefusals, *denials: RiskDecision) -> list[str]:
    news = refusals.news(denials)
    refusals.stand(denials)
    return [d.intent.client_order_id for d in news]


def test_the_same_refusal_cycle_after_cycle_is_announced_once(
    client: redis.Redis, namespace: str
) -> None:
    refusals = StandingRefusals(client, namespace=namespace)

    assert announce(refusals, below_minimum(BTC, 12.5)) == [BTC.client_order_id]
    for notional in (12.6, 12.4, 13.0):  # the figures move, the cause does not
        assert announce(refusals, below_minimum(BTC, notional)) == []
    assert announce(refusals, below_minimum(BTC, 12.0), below_minimum(ETH, 3.0)) == [
        ETH.client_order_id
    ]


def test_a_refusal_is_announced_again_when_its_reason_changes(
    client: redis.Redis, namespace: str
) -> None:
    refusals = StandingRefusals(client, namespace=namespace)
    announce(refusals, below_minimum(BTC, 12.5))
    full = RiskDecision.deny(
        BTC, "5 positions are open and the policy allows 5", RiskCheck.MAX_POSITIONS
    )

    assert announce(refusals, full) == [BTC.client_order_id]
    assert announce(refusals, full) == []


def test_an_intent_that_stops_being_refused_is_announced_when_refused_again(
    client: redis.Redis, namespace: str
) -> None:
    refusals = StandingRefusals(client, namespace=namespace)
    announce(refusals, below_minimum(BTC, 12.5))
    assert announce(refusals) == []  # approved (or not derived) this cycle

    assert announce(refusals, below_minimum(BTC, 12.5)) == [BTC.client_order_id]


def test_a_relaunch_announces_nothing_twice(client: redis.Redis, namespace: str) -> None:
    announce(StandingRefusals(client, namespace=namespace), below_minimum(BTC, 12.5))

    relaunched = StandingRefusals(client, namespace=namespace)

    assert announce(relaunched, below_minimum(BTC, 12.7)) == []
    assert client.hgetall(relaunched.key) == {
        BTC.client_order_id: reason_key(below_minimum(BTC, 1))
    }


def test_an_unannounced_refusal_is_not_recorded_as_standing(
    client: redis.Redis, namespace: str
) -> None:
    first = StandingRefusals(client, namespace=namespace)
    assert first.news([below_minimum(BTC, 12.5)])  # the engine died before announcing it

    assert announce(StandingRefusals(client, namespace=namespace), below_minimum(BTC, 12.5)) == [
        BTC.client_order_id
    ]
