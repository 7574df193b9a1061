"""The analytics consumer: events from the bus become metrics, each event exactly once."""

from __future__ import annotations

import math

import pytest
import redis

from components.analytics import UNATTRIBUTED, Analytics
from components.errors import DataError
from components.events import Event, RedisEventBus
from tests.unit.analytics.builders import (
    T0,
    ess,
    hours,
    opening,
    policy_write,
    promotion,
    rejection,
    trade,
)
from tests.unit.analytics.conftest import FAST
from tests.unit.events.test_bus_contract import drain


class ConsumerDied(BaseException):
    """Stands for a SIGKILL: escapes the bus loop, so nothing is acked."""


def test_events_consumed_from_the_bus_become_strategy_and_system_metrics(
    analytics: Analytics, bus: RedisEventBus
) -> None:
    analytics.attach(bus)
    events = [
        opening(4.3, strategy="momentum", at=T0),
        trade(120.0, fee=4.4, strategy="momentum", at=T0 + hours(2)),
        opening(2.0, strategy="momentum", at=T0 + hours(3)),
        trade(-60.0, fee=2.1, strategy="momentum", at=T0 + hours(5)),
        opening(1.5, strategy="breakout", at=T0 + hours(1)),
        trade(30.0, fee=1.6, strategy="breakout", at=T0 + hours(4)),
        rejection("max_positions"),
        rejection("max_positions"),
        rejection(None, "minimum notional not met"),
        ess("REDUCING", "ACTIVE"),
        ess("HALTED", "REDUCING"),
        ess("ACTIVE", "HALTED", reason="resumed by hand"),
        policy_write(2, at=T0 + hours(0.2), risk_mode="DEFENSIVE"),
        policy_write(3, at=T0 + hours(0.7), opp_rankings__BTC="0.8", opp_rankings__ETH="0.5"),
        policy_write(4, at=T0 + hours(1.1), by="ops", max_positions=3),
    ]
    bus.publish_many(events)

    drain(bus, lambda: analytics.system_metrics().events_total == len(events))

    momentum = analytics.strategy_metrics()["momentum"]
    assert (momentum.fills, momentum.trades, momentum.wins, momentum.losses) == (4, 2, 1, 1)
    assert momentum.win_rate == 0.5
    assert momentum.pnl == -4.3 + 120.0 - 2.0 - 60.0
    assert momentum.fees == pytest.approx(4.3 + 4.4 + 2.0 + 2.1)
    assert momentum.gross_pnl == pytest.approx(momentum.pnl + momentum.fees)
    assert momentum.max_drawdown == pytest.approx(62.0)  # peak 115.7 -> 53.7
    assert momentum.avg_win == 120.0 and momentum.avg_loss == -60.0
    assert momentum.profit_factor == 2.0
    assert momentum.first_fill_at == T0 and momentum.last_fill_at == T0 + hours(5)
    assert analytics.strategy_metrics()["breakout"].pnl == -1.5 + 30.0
    assert analytics.totals().fills == 6

    system = analytics.system_metrics()
    assert system.events_by_type == {
        "ess.state_changed": 3, "order.rejected": 3, "policy.updated": 3, "trade.executed": 6,
    }  # fmt: skip
    assert system.rejections_total == 3
    assert system.rejections_by_check == {"max_positions": 2, "minimum notional not met": 1}
    assert system.ess_trips == 2
    assert system.ess_trips_by_state == {"REDUCING": 1, "HALTED": 1}
    assert system.ess_transitions == {"ACTIVE->REDUCING": 1, "REDUCING->HALTED": 1,
                                      "HALTED->ACTIVE": 1}  # fmt: skip
    assert [trip.state for trip in system.recent_ess_trips] == ["HALTED", "REDUCING"]
    assert system.policy_changes_total == 3
    assert system.policy_changes_by_hour == {"2026-01-05T09:00Z": 2, "2026-01-05T10:00Z": 1}
    assert system.policy_changes_by_author == {"msc-evaluation": 2, "ops": 1}
    assert system.policy_changes_by_field == {"risk_mode": 1, "opp_rankings": 1,
                                              "max_positions": 1}  # fmt: skip
    assert system.duplicates_ignored == 0


def test_redelivered_event_is_counted_once(analytics: Analytics) -> None:
    fill = trade(75.5, fee=3.2)
    tripped = ess("HALTED", "ACTIVE")

    assert analytics.handle(fill) is True
    assert analytics.handle(tripped) is True
    assert analytics.handle(fill) is False
    assert analytics.handle(tripped) is False

    metrics = analytics.strategy_metrics()["momentum"]
    assert (metrics.fills, metrics.trades, metrics.pnl) == (1, 1, 75.5)
    assert len(analytics.trades()) == 1
    system = analytics.system_metrics()
    assert (system.events_total, system.ess_trips, system.duplicates_ignored) == (2, 1, 2)


def test_events_a_dead_consumer_handled_but_never_acked_are_not_counted_twice(
    client: redis.Redis, namespace: str, analytics: Analytics, bus: RedisEventBus
) -> None:
    doomed = RedisEventBus(client, namespace=namespace, config=FAST, consumer="doomed")

    def handle_then_die(event: Event) -> None:
        analytics.handle(event)
        raise ConsumerDied  # after the metrics were written, before the ack

    doomed.subscribe("*", handle_then_die, group="analytics")
    analytics.attach(bus)  # the survivor, same group
    fills = [trade(10.0, fee=1.0), trade(-4.0, fee=1.0), trade(7.5, fee=1.0)]
    bus.publish_many(fills)
    with pytest.raises(ConsumerDied):
        doomed.poll()
    assert analytics.system_metrics().events_total == 1  # it died after the first

    drain(bus, lambda: analytics.system_metrics().events_total == 3)  # claimed when idle

    metrics = analytics.strategy_metrics()["momentum"]
    assert (metrics.fills, metrics.wins, metrics.losses) == (3, 2, 1)
    assert metrics.pnl == 10.0 - 4.0 + 7.5
    assert analytics.system_metrics().duplicates_ignored == 1
    assert bus.stats().lag == 0


def test_opening_fills_count_their_fee_but_are_not_trades(analytics: Analytics) -> None:
    analytics.handle(opening(5.0))
    analytics.handle(opening(0.0))

    metrics = analytics.strategy_metrics()["momentum"]
    assert (metrics.fills, metrics.trades, metrics.pnl, metrics.fees) == (2, 0, -5.0, 5.0)
    assert metrics.win_rate is None
    assert metrics.max_drawdown == 5.0


def test_a_fill_without_a_strategy_is_unattributed(analytics: Analytics) -> None:
    analytics.handle(trade(12.0, strategy=None))

    assert list(analytics.strategy_metrics()) == [UNATTRIBUTED]
    assert analytics.trades()[0].strategy is None


def test_fills_of_the_ml_strategy_are_attributed_to_the_model_version_in_production(
    analytics: Analytics,
) -> None:
    analytics.handle(trade(5.0, strategy="ml"))  # before any promotion
    analytics.handle(promotion("ml", "v1"))
    analytics.handle(trade(10.0, strategy="ml"))
    analytics.handle(trade(-3.0, strategy="ml"))
    analytics.handle(trade(8.0, strategy="ml@v2"))  # the version named by the strategy
    analytics.handle(promotion("ml", "v2"))
    analytics.handle(trade(1.0, strategy="ml"))
    analytics.handle(trade(99.0, strategy="momentum"))  # no model behind it

    models = analytics.model_metrics()
    assert list(models) == ["ml@unknown", "ml@v1", "ml@v2"]
    assert (models["ml@v1"].fills, models["ml@v1"].pnl, models["ml@v1"].win_rate) == (2, 7.0, 0.5)
    assert (models["ml@v2"].fills, models["ml@v2"].pnl) == (2, 9.0)
    assert models["ml@v2"].production and not models["ml@v1"].production
    assert models["ml@v2"].label == "ml@v2"
    assert analytics.system_metrics().production_models == {"ml": "v2"}
    assert analytics.system_metrics().model_promotions == 2


def test_a_trade_with_a_non_finite_pnl_is_refused_and_changes_nothing(
    analytics: Analytics,
) -> None:
    poison = trade(math.nan)

    with pytest.raises(DataError, match="realized_pnl=nan"):
        analytics.handle(poison)

    assert analytics.system_metrics().events_total == 0
    assert analytics.strategy_metrics() == {}


def test_processed_ids_are_kept_within_their_bound(client: redis.Redis, namespace: str) -> None:
    from components.analytics import AnalyticsConfig

    small = Analytics(client, namespace=namespace, config=AnalyticsConfig(processed_ids_kept=1000))
    for n in range(1010):
        small.handle(ess("HALTED", "ACTIVE", reason=f"r{n}"))

    assert client.zcard(small.key("processed")) == 1000
    assert small.system_metrics().ess_trips == 1010


def test_catch_up_handles_everything_waiting_for_the_group(
    analytics: Analytics, bus: RedisEventBus
) -> None:
    analytics.attach(bus)
    analytics.attach(bus)  # attaching again changes nothing
    bus.publish_many([trade(float(n), fee=0.1) for n in range(1, 301)])

    assert analytics.catch_up(bus) == 300

    assert analytics.strategy_metrics()["momentum"].fills == 300
    assert bus.stats().lag == 0
