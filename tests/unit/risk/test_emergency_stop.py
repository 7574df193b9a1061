"""Emergency Stop System on a real Redis: trips, recovery, persistence, events, the gate."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

from components.clock import ManualClock
from components.errors import ConfigurationError, DataError
from components.events import Event, RedisEventBus
from components.risk import (
    EmergencyStop,
    EssConfig,
    EssState,
    EssStatus,
    RiskAction,
    RiskCheck,
    Trip,
)
from components.trading.types import OrderIntent, PortfolioView
from tests.unit.risk.builders import T0, intent, intents, portfolio, portfolios, signed_after

ACTIVE, REDUCING, HALTED = EssState.ACTIVE, EssState.REDUCING, EssState.HALTED
FIXTURE_REUSE = HealthCheck.function_scoped_fixture  # one ESS serves every example
CONFIG = EssConfig(cooldown=timedelta(minutes=30), bar_length=timedelta(hours=1))


@dataclass(frozen=True)
class Trade:
    id: str
    closed_at: datetime
    realized_pnl: float


class Trades:
    """A ledger's closed trades, handed to the ESS newest first as the ledger does."""

    def __init__(self) -> None:
        self.closed: list[Trade] = []

    def close(self, *pnls: float) -> list[Trade]:
        for pnl in pnls:
            n = len(self.closed)
            self.closed.insert(0, Trade(f"t{n}", T0 + timedelta(minutes=n), pnl))
        return list(self.closed)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def make_ess(
    client: redis.Redis, namespace: str, clock: ManualClock
) -> Callable[..., EmergencyStop]:
    def make(**config: object) -> EmergencyStop:
        return EmergencyStop(
            client,
            namespace=namespace,
            bus=RedisEventBus(client, namespace=namespace),
            config=CONFIG.model_copy(update=config),
            clock=clock,
        )

    return make


@pytest.fixture
def ess(make_ess: Callable[..., EmergencyStop]) -> EmergencyStop:
    return make_ess()


def transitions(client: redis.Redis, namespace: str) -> list[tuple[str | None, str]]:
    """(previous, state) of every ess.state_changed event on the stream, oldest first."""
    events = RedisEventBus(client, namespace=namespace).tail("ess.state_changed", count=1000)
    return [(e.payload.previous, e.payload.state) for e in events]  # type: ignore[attr-defined]


# --- a fresh ESS ----------------------------------------------------------------------
def test_a_fresh_ess_is_active_with_nothing_remembered(ess: EmergencyStop) -> None:
    status = ess.status()
    assert status.state is ACTIVE and status.tripped_by is None
    assert ess.evaluate(equity=10_000.0, now=T0) is ACTIVE
    assert ess.status().peak_equity == 10_000.0


# --- trips --------------------------------------------------------------------------------
def test_a_drawdown_of_5_percent_reduces_and_10_percent_halts(ess: EmergencyStop) -> None:
    ess.evaluate(equity=10_000.0, now=T0)
    ess.evaluate(equity=10_500.0, now=T0 + timedelta(hours=1))  # a new peak
    assert ess.evaluate(equity=9_900.0, now=T0 + timedelta(hours=2)) is REDUCING  # 5.7%
    status = ess.status()
    assert status.tripped_by is Trip.DRAWDOWN and status.peak_equity == 10_500.0
    assert status.reason.startswith("drawdown:") and "10,500.00" in status.reason
    assert ess.evaluate(equity=9_400.0, now=T0 + timedelta(hours=3)) is HALTED  # 10.5%


def test_a_daily_loss_of_3_percent_reduces(ess: EmergencyStop) -> None:
    ess.evaluate(equity=10_000.0, now=T0)  # the day's first equity
    assert ess.evaluate(equity=9_710.0, now=T0 + timedelta(hours=5)) is ACTIVE  # -2.9%
    assert ess.evaluate(equity=9_690.0, now=T0 + timedelta(hours=6)) is REDUCING  # -3.1%
    status = ess.status()
    assert status.tripped_by is Trip.DAILY_LOSS
    assert status.day_start_equity == 10_000.0


def test_five_losing_trades_in_a_row_reduce_and_a_win_resets_the_streak(
    ess: EmergencyStop,
) -> None:
    trades = Trades()
    ess.evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(-1, -1, -1, -1))
    assert ess.evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(5, -1, -1)) is ACTIVE
    assert ess.status().loss_streak == 2
    assert ess.evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(-1, -1, -1)) is REDUCING
    assert ess.status().tripped_by is Trip.CONSECUTIVE_LOSSES


def test_trades_handed_again_after_a_restart_are_not_counted_twice(
    make_ess: Callable[..., EmergencyStop],
) -> None:
    trades = Trades()
    make_ess().evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(-1, -1, -1))
    for _ in range(3):  # three relaunches, each handed the same trades
        relaunched = make_ess()
        assert relaunched.evaluate(equity=10_000.0, now=T0, closed_trades=trades.closed) is ACTIVE
        assert relaunched.status().loss_streak == 3
    assert relaunched.status().trades_cursor == "t2"
    assert make_ess().evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(-1)) is ACTIVE
    assert make_ess().evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(-1)) is REDUCING


def test_a_cursor_older_than_every_trade_handed_counts_them_all(ess: EmergencyStop) -> None:
    trades = Trades()
    ess.evaluate(equity=10_000.0, now=T0, closed_trades=trades.close(5))
    trades.close(-1, -1, -1, -1, -1, -1)
    window = trades.closed[:4]  # the cursor (t0) fell out of the window read

    ess.evaluate(equity=10_000.0, now=T0, closed_trades=window)

    assert ess.status().loss_streak == 4
    assert ess.status().trades_cursor == "t6"


def test_a_state_without_a_cursor_counts_only_trades_after_its_last_evaluation(
    client: redis.Redis, namespace: str, ess: EmergencyStop
) -> None:
    trades = Trades()
    trades.close(-1, -1, -1)  # closed at T0, T0+1min, T0+2min: counted before cursors existed
    client.hset(
        f"{namespace}:ess",
        mapping={"loss_streak": "3", "evaluated_at": (T0 + timedelta(minutes=2)).isoformat()},
    )

    ess.evaluate(equity=10_000.0, now=T0 + timedelta(hours=1), closed_trades=trades.close(-1))

    assert ess.status().loss_streak == 4


def test_market_data_older_than_n_bars_reduces(ess: EmergencyStop) -> None:
    fresh = T0 - timedelta(hours=3)  # exactly three bars: still fresh
    assert ess.evaluate(equity=10_000.0, now=T0, last_data_at=fresh) is ACTIVE
    stale = T0 - timedelta(hours=3, seconds=1)
    assert ess.evaluate(equity=10_000.0, now=T0, last_data_at=stale) is REDUCING
    assert ess.status().tripped_by is Trip.STALE_DATA


def test_health_critical_halts(ess: EmergencyStop) -> None:
    assert ess.evaluate(equity=10_000.0, now=T0, health="DEGRADED") is ACTIVE
    assert ess.evaluate(equity=10_000.0, now=T0, health="CRITICAL") is HALTED
    assert ess.status().tripped_by is Trip.HEALTH


def test_automatic_trips_only_escalate(ess: EmergencyStop) -> None:
    ess.evaluate(equity=10_000.0, now=T0, health="CRITICAL")
    stale = T0 - timedelta(days=1)
    assert ess.evaluate(equity=10_000.0, now=T0, last_data_at=stale) is HALTED
    assert ess.status().tripped_by is Trip.HEALTH


def test_manual_halt_reduce_and_resume(ess: EmergencyStop) -> None:
    assert ess.reduce("news risk", by="ops").state is REDUCING
    status = ess.halt("exchange outage", by="ops")
    assert (status.state, status.reason, status.by) == (HALTED, "exchange outage", "ops")
    assert status.tripped_by is Trip.MANUAL and status.since == T0
    assert ess.resume(by="ops", reason="outage over").state is ACTIVE


@pytest.mark.parametrize(
    "call",
    [
        lambda ess: ess.halt("", by="ops"),
        lambda ess: ess.halt("why", by=" "),
        lambda ess: ess.resume(by="ops", reason=""),
    ],
)
def test_a_manual_transition_needs_who_and_why(
    ess: EmergencyStop, call: Callable[[EmergencyStop], object]
) -> None:
    with pytest.raises(ConfigurationError, match="who"):
        call(ess)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"equity": float("nan")}, DataError),
        ({"closed_trades": [Trade("b", T0, float("inf")), Trade("a", T0, 1.0)]}, DataError),
        ({"now": datetime(2026, 1, 1)}, ConfigurationError),
        ({"health": "ON_FIRE"}, ConfigurationError),
    ],
)
def test_bad_evaluation_input_is_refused_and_nothing_is_written(
    ess: EmergencyStop, client: redis.Redis, namespace: str, kwargs: dict, error: type
) -> None:
    with pytest.raises(error):
        ess.evaluate(**{"equity": 10_000.0, "now": T0, **kwargs})
    assert client.exists(f"{namespace}:ess") == 0


# --- recovery -------------------------------------------------------------------------
def test_halted_is_left_only_by_an_explicit_resume(ess: EmergencyStop, clock: ManualClock) -> None:
    ess.evaluate(equity=10_000.0, now=T0)
    assert ess.evaluate(equity=8_900.0, now=T0) is HALTED
    later = T0 + timedelta(days=3)
    assert ess.evaluate(equity=10_200.0, now=later, health="HEALTHY") is HALTED
    assert ess.reduce("try reducing", by="ops").state is HALTED  # reduce() does not leave it
    clock.set(later)
    assert ess.resume(by="ops", reason="reviewed").state is ACTIVE


def test_resume_restarts_the_peak_so_an_acknowledged_drawdown_does_not_trip_again(
    ess: EmergencyStop,
) -> None:
    ess.evaluate(equity=10_000.0, now=T0)
    ess.evaluate(equity=8_900.0, now=T0 + timedelta(minutes=1))
    ess.resume(by="ops", reason="loss acknowledged")
    assert ess.status().peak_equity == 8_900.0
    assert ess.evaluate(equity=8_800.0, now=T0 + timedelta(minutes=2)) is ACTIVE  # 1.1%


def test_a_soft_trip_recovers_after_the_cool_down_once_its_condition_cleared(
    ess: EmergencyStop,
) -> None:
    stale = T0 - timedelta(hours=5)
    assert ess.evaluate(equity=10_000.0, now=T0, last_data_at=stale) is REDUCING
    # data is fresh again, but the cool-down has not passed
    soon = T0 + timedelta(minutes=29)
    assert ess.evaluate(equity=10_000.0, now=soon, last_data_at=soon) is REDUCING
    # the cool-down has passed, but the data is stale again
    later = T0 + timedelta(minutes=31)
    assert ess.evaluate(equity=10_000.0, now=later, last_data_at=stale) is REDUCING
    assert ess.evaluate(equity=10_000.0, now=later, last_data_at=later) is ACTIVE
    assert ess.status().reason.startswith("recovered: stale_data cleared")


def test_consecutive_losses_cool_down_then_recover(ess: EmergencyStop) -> None:
    ess.evaluate(equity=10_000.0, now=T0, closed_trades=Trades().close(*[-1.0] * 5))
    assert ess.evaluate(equity=10_000.0, now=T0 + timedelta(minutes=20)) is REDUCING
    assert ess.evaluate(equity=10_000.0, now=T0 + timedelta(minutes=30)) is ACTIVE


def test_a_daily_loss_recovers_on_a_new_day(ess: EmergencyStop) -> None:
    ess.evaluate(equity=10_000.0, now=T0)
    assert ess.evaluate(equity=9_650.0, now=T0 + timedelta(hours=20)) is REDUCING
    assert ess.evaluate(equity=9_650.0, now=T0 + timedelta(hours=23)) is REDUCING
    assert ess.evaluate(equity=9_650.0, now=T0 + timedelta(hours=25)) is ACTIVE


def test_a_drawdown_or_manual_reduction_does_not_recover_by_itself(
    make_ess: Callable[..., EmergencyStop],
) -> None:
    ess = make_ess()
    ess.evaluate(equity=10_000.0, now=T0)
    assert ess.evaluate(equity=9_400.0, now=T0) is REDUCING  # drawdown 6%
    assert ess.evaluate(equity=9_990.0, now=T0 + timedelta(days=2)) is REDUCING
    ess.resume(by="ops", reason="ok")
    ess.reduce("by hand", by="ops")
    assert ess.evaluate(equity=9_990.0, now=T0 + timedelta(days=4)) is REDUCING


# --- persistence and events -------------------------------------------------------------
def test_state_reason_trip_and_peak_survive_a_restart(
    make_ess: Callable[..., EmergencyStop],
) -> None:
    first = make_ess()
    first.evaluate(equity=10_000.0, now=T0)
    first.evaluate(equity=9_400.0, now=T0 + timedelta(hours=1))
    before = first.status()
    restarted = make_ess()  # a new object, as after a process restart
    after = restarted.status()
    assert after == before
    assert (after.state, after.tripped_by, after.peak_equity) == (
        REDUCING,
        Trip.DRAWDOWN,
        10_000.0,
    )
    assert restarted.evaluate(equity=8_950.0, now=T0 + timedelta(hours=2)) is HALTED


def test_halting_twice_is_one_transition_with_one_event(
    ess: EmergencyStop, client: redis.Redis, namespace: str
) -> None:
    ess.halt("first", by="ops")
    ess.halt("second", by="ops")
    ess.evaluate(equity=10_000.0, now=T0, health="CRITICAL")
    assert transitions(client, namespace) == [("ACTIVE", "HALTED")]
    assert ess.status().reason == "first"


def test_every_transition_has_its_event(
    ess: EmergencyStop, client: redis.Redis, namespace: str, clock: ManualClock
) -> None:
    ess.evaluate(equity=10_000.0, now=T0, closed_trades=Trades().close(*[-1.0] * 5))  # -> REDUCING
    ess.evaluate(equity=10_000.0, now=T0 + timedelta(hours=1))  # -> ACTIVE (cool-down)
    ess.evaluate(equity=10_000.0, now=T0 + timedelta(hours=1), health="CRITICAL")  # HALTED
    ess.resume(by="ops", reason="checked")  # -> ACTIVE
    ess.reduce("news", by="ops")  # -> REDUCING
    ess.halt("outage", by="ops")  # -> HALTED
    assert transitions(client, namespace) == [
        ("ACTIVE", "REDUCING"),
        ("REDUCING", "ACTIVE"),
        ("ACTIVE", "HALTED"),
        ("HALTED", "ACTIVE"),
        ("ACTIVE", "REDUCING"),
        ("REDUCING", "HALTED"),
    ]
    events = RedisEventBus(client, namespace=namespace).tail("ess.state_changed", count=10)
    assert [e.payload.by for e in events] == ["emergency_stop"] * 3 + ["ops"] * 3  # type: ignore[attr-defined]
    assert events[0].payload.reason.startswith("consecutive_losses:")  # type: ignore[attr-defined]
    assert all(e.source == "emergency_stop" for e in events)


def test_mirrors_see_each_transition_event(
    client: redis.Redis, namespace: str, clock: ManualClock
) -> None:
    bus = RedisEventBus(client, namespace=namespace)
    seen: list[Event] = []
    bus.add_mirror(seen.append)
    ess = EmergencyStop(client, namespace=namespace, bus=bus, clock=clock)
    ess.halt("outage", by="ops")
    ess.halt("outage", by="ops")
    assert [e.type for e in seen] == ["ess.state_changed"]
    assert seen[0] == bus.tail("ess.state_changed")[0]


def test_concurrent_halts_make_exactly_one_transition(
    client: redis.Redis, namespace: str, redis_url: str
) -> None:
    def halt(n: int) -> None:
        connection = redis.Redis.from_url(redis_url, decode_responses=True)
        EmergencyStop(connection, namespace=namespace).halt(f"halt {n}", by=f"worker-{n}")
        connection.close()

    threads = [threading.Thread(target=halt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert transitions(client, namespace) == [("ACTIVE", "HALTED")]


# --- the gate -------------------------------------------------------------------------
BOOK = portfolio(9_000.0, BTC=(0.02, 50_000.0))


def test_active_lets_every_order_through(ess: EmergencyStop) -> None:
    assert ess.gate(intent(quantity=1.0), BOOK).action is RiskAction.APPROVE


def test_reducing_passes_reductions_cuts_flips_and_denies_growth(ess: EmergencyStop) -> None:
    ess.reduce("news risk", by="ops")
    assert ess.gate(intent(side="sell", quantity=0.01), BOOK).action is RiskAction.APPROVE
    flip = ess.gate(intent(side="sell", quantity=0.05), BOOK)
    assert flip.action is RiskAction.RESIZE and flip.intent.quantity == 0.02
    grow = ess.gate(intent(quantity=0.01), BOOK)
    assert grow.action is RiskAction.DENY and grow.check is RiskCheck.EMERGENCY_STOP
    assert grow.reason.startswith("emergency_stop: REDUCING (news risk)")


def test_halted_denies_even_a_reduction(ess: EmergencyStop) -> None:
    ess.halt("outage", by="ops")
    decision = ess.gate(intent(side="sell", quantity=0.01), BOOK)
    assert decision.action is RiskAction.DENY
    assert decision.reason == "emergency_stop: HALTED (outage); no order passes until resume"


def test_the_gate_fails_closed_when_the_state_cannot_be_read() -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    decision = EmergencyStop(unreachable, namespace="nowhere").gate(intent(), BOOK)
    assert decision.action is RiskAction.DENY
    assert "failing closed" in decision.reason


def _grows_exposure(order: OrderIntent, book: PortfolioView) -> bool:
    before, after = signed_after(order, book)
    return abs(after) > abs(before) or after * before < 0 or (before == 0 and after != 0)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE_REUSE])
@given(data=st.data(), book=portfolios())
def test_in_halted_no_order_passes_the_gate(
    ess: EmergencyStop, data: st.DataObject, book: PortfolioView
) -> None:
    ess.halt("property test", by="tests")
    order = data.draw(intents(book))
    assert ess.gate(order, book).action is RiskAction.DENY


@hsettings(max_examples=150, deadline=None, suppress_health_check=[FIXTURE_REUSE])
@given(data=st.data(), book=portfolios())
def test_in_reducing_no_order_that_grows_exposure_passes_the_gate(
    ess: EmergencyStop, data: st.DataObject, book: PortfolioView
) -> None:
    ess.reduce("property test", by="tests")
    order = data.draw(intents(book))
    decision = ess.gate(order, book)
    if decision.approved:
        assert not _grows_exposure(decision.intent, book)
    if not _grows_exposure(order, book):
        assert decision.action is RiskAction.APPROVE


# --- on halt ----------------------------------------------------------------------------
def test_on_halt_cancels_everything_and_flattens_when_configured(
    make_ess: Callable[..., EmergencyStop],
) -> None:
    book = portfolio(10_000.0, BTC=(0.02, 50_000.0), ETH=(-1.5, 3_000.0))
    plain = make_ess()
    assert plain.on_halt(book).cancel_all is False  # ACTIVE: nothing to do
    plain.halt("outage", by="ops")
    assert plain.on_halt(book).model_dump() == {"cancel_all": True, "flatten": [], "orders": []}

    actions = make_ess(flatten_on_halt=True).on_halt(book)
    assert actions.cancel_all and actions.flatten == ["BTC/USDT", "ETH/USDT"]
    btc, eth = actions.orders
    assert (btc.side, btc.quantity, btc.reduce_only) == ("sell", 0.02, True)
    assert (eth.side, eth.quantity) == ("buy", 1.5)
    assert btc.client_order_id == "ess-flatten:BTC/USDT:20260101T000000"
    assert make_ess(flatten_on_halt=True).on_halt(book) == actions  # same ids: never twice


# --- config and status ------------------------------------------------------------------
def test_the_config_refuses_a_reduce_level_above_the_halt_level() -> None:
    with pytest.raises(ValueError, match="drawdown_reduce"):
        EssConfig(drawdown_reduce=0.2, drawdown_halt=0.1)
    with pytest.raises(ValueError, match="cooldown"):
        EssConfig(cooldown=timedelta(0))


@given(peak=st.floats(-1e6, 1e9), equity=st.floats(-1e9, 1e9))
def test_drawdown_lies_between_zero_and_one(peak: float, equity: float) -> None:
    drawdown = EssStatus(peak_equity=peak, last_equity=equity).drawdown
    assert 0.0 <= drawdown <= 1.0
