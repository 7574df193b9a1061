from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from components.errors import DataError, TemporaryError
from components.events import Event, InMemoryEventBus, RedisEventBus
from components.execution import FillReason, Ledger, Order
from components.execution.models import Fill
from components.trading.types import Side
from tests.unit.execution.builders import (
    SYMBOL,
    T0,
    bar_at,
    make_intent,
    trade_events,
    trade_ids,
)


def fill(
    ledger: Ledger, coid: str, side: Side, quantity: float, price: float, **kwargs: Any
) -> Fill:
    """Apply a fill with a 0.1% fee; return it (it must be new)."""
    values: dict[str, Any] = {"symbol": SYMBOL, "fee": quantity * price * 0.001, "filled_at": T0}
    values.update(kwargs)
    result = ledger.apply_fill(
        client_order_id=coid, side=side, quantity=quantity, price=price, **values
    )
    assert result.status == "filled", result.reason
    assert result.fill is not None
    return result.fill


def test_a_fresh_ledger_holds_the_initial_cash(ledger: Ledger) -> None:
    view = ledger.snapshot({})
    assert view.cash == view.equity == 10_000.0
    assert view.positions == {}


def test_initialize_stores_the_cash_only_when_absent(client: redis.Redis, namespace: str) -> None:
    ledger = Ledger(client, namespace=namespace, initial_cash=5_000.0)
    assert ledger.initialize(25_000.0) is True
    assert ledger.initialize(99.0) is False
    assert ledger.cash() == 25_000.0
    assert Ledger(client, namespace=namespace).state().initial_cash == 25_000.0


def test_adding_to_a_position_moves_the_average_price(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0)
    fill(ledger, "b", Side.BUY, 3.0, 120.0)
    position = ledger.position(SYMBOL)
    assert position is not None
    assert position.quantity == 4.0
    assert position.average_price == pytest.approx(115.0)
    assert position.id == "a"


def test_reducing_realises_pnl_at_the_fill_price_minus_fees(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 2.0, 100.0, fee=0.2)
    sold = fill(ledger, "b", Side.SELL, 1.5, 110.0, fee=0.165)
    assert sold.realized_pnl == pytest.approx(1.5 * 10.0 - 0.165)
    position = ledger.position(SYMBOL)
    assert position is not None
    assert (position.quantity, position.average_price) == (0.5, 100.0)
    assert position.realized_pnl == pytest.approx(-0.2 + 15.0 - 0.165)
    state = ledger.state()
    assert state.realized_pnl == pytest.approx(-0.2 + 15.0 - 0.165)
    assert state.fees_paid == pytest.approx(0.365)


def test_a_short_profits_when_the_price_falls(ledger: Ledger) -> None:
    fill(ledger, "a", Side.SELL, 2.0, 100.0, fee=0.0)
    covered = fill(ledger, "b", Side.BUY, 2.0, 90.0, fee=0.0)
    assert covered.realized_pnl == pytest.approx(20.0)
    assert ledger.position(SYMBOL) is None
    assert ledger.cash() == pytest.approx(10_020.0)


def test_flipping_through_zero_closes_the_position_and_opens_the_rest_at_the_fill(
    ledger: Ledger,
) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0, fee=0.1, strategy="momentum")
    flip = fill(ledger, "b", Side.SELL, 3.0, 110.0, fee=0.33, strategy="breakout")
    assert flip.realized_pnl == pytest.approx(10.0 - 0.33)
    position = ledger.position(SYMBOL)
    assert position is not None
    assert (position.id, position.quantity, position.average_price) == ("b", -2.0, 110.0)
    assert position.strategy == "breakout"
    assert position.fees == pytest.approx(0.22)  # the opening part of the fee
    [closed] = ledger.closed_positions()
    assert (closed.id, closed.direction, closed.exit_order_id) == ("a", "long", "b")
    assert closed.realized_pnl == pytest.approx(-0.1 + 10.0 - 0.11)
    assert closed.strategy == "momentum"


def test_equity_is_cash_plus_positions_and_initial_cash_plus_all_pnl(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0)
    fill(ledger, "b", Side.SELL, 0.4, 105.0)
    fill(ledger, "c", Side.SELL, 2.0, 10.0, symbol="ETH/USDT")
    marks = {SYMBOL: 103.0, "ETH/USDT": 11.0}
    state = ledger.state(marks)
    assert state.equity == state.cash + 0.6 * 103.0 + -2.0 * 11.0
    assert state.equity == pytest.approx(
        state.initial_cash + state.realized_pnl + state.unrealized_pnl, abs=1e-9
    )
    assert ledger.snapshot(marks).equity == state.equity


def test_a_fill_for_an_id_already_filled_returns_the_first_and_changes_nothing(
    ledger: Ledger, client: redis.Redis, namespace: str
) -> None:
    first = fill(ledger, "a", Side.BUY, 1.0, 100.0)
    before = ledger.state({SYMBOL: 100.0})
    again = ledger.apply_fill(
        client_order_id="a", symbol=SYMBOL, side=Side.BUY, quantity=5.0, price=50.0,
        fee=1.0, filled_at=bar_at(3),
    )  # fmt: skip
    assert again.status == "duplicate"
    assert again.fill == first
    assert ledger.state({SYMBOL: 100.0}) == before
    assert len(trade_events(client, namespace)) == 1


def test_every_fill_appends_exactly_one_trade_executed_event(
    ledger: Ledger, client: redis.Redis, namespace: str
) -> None:
    fills = [
        fill(ledger, "a", Side.BUY, 1.0, 100.0, strategy="momentum"),
        fill(ledger, "b", Side.SELL, 0.5, 110.0),
        fill(ledger, "c", Side.SELL, 1.0, 120.0),
    ]
    events = trade_events(client, namespace)
    assert trade_ids(client, namespace) == ["a", "b", "c"]
    for event, done in zip(events, fills, strict=True):
        payload: Any = event.payload
        assert (payload.quantity, payload.price, payload.fee) == (
            done.quantity, done.price, done.fee,
        )  # fmt: skip
        assert payload.realized_pnl == done.realized_pnl
        assert payload.filled_at == done.filled_at
        assert event.correlation_id == done.client_order_id
    assert events[0].payload.strategy == "momentum"  # type: ignore[attr-defined]
    assert RedisEventBus(client, namespace=namespace).stats().published == 3


def test_the_bus_mirrors_see_each_fill_event(client: redis.Redis, namespace: str) -> None:
    bus = InMemoryEventBus()
    seen: list[Event] = []
    bus.add_mirror(seen.append)
    ledger = Ledger(client, namespace=namespace, bus=bus)
    fill(ledger, "a", Side.BUY, 1.0, 100.0)
    assert [e.type for e in seen] == ["trade.executed"]
    assert seen[0] == trade_events(client, namespace)[0]


def test_a_new_ledger_on_the_same_namespace_sees_exactly_the_same_state(
    client: redis.Redis, namespace: str
) -> None:
    first = Ledger(client, namespace=namespace)
    fill(first, "a", Side.BUY, 0.1234567, 43_210.987654321, stop_loss=40_000.0)
    fill(first, "b", Side.SELL, 0.1, 44_000.1)
    fill(first, "c", Side.SELL, 3.3, 2_000.7, symbol="ETH/USDT")
    first.record_order(Order.from_intent(make_intent("d"), eligible_after=T0))
    marks = {SYMBOL: 43_999.5, "ETH/USDT": 2_001.1}
    assert Ledger(client, namespace=namespace).state(marks) == first.state(marks)


def test_reduce_only_fills_are_cut_to_the_position_and_never_open_one(
    ledger: Ledger, client: redis.Redis, namespace: str
) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0)
    cut = fill(ledger, "b", Side.SELL, 3.0, 100.0, fee=0.3, reduce_only=True)
    assert cut.quantity == 1.0
    assert cut.fee == pytest.approx(0.1)
    assert ledger.position(SYMBOL) is None
    refused = ledger.apply_fill(
        client_order_id="c", symbol=SYMBOL, side=Side.SELL, quantity=1.0, price=100.0,
        fee=0.1, filled_at=T0, reduce_only=True,
    )  # fmt: skip
    assert refused.status == "skipped"
    assert "reduce-only" in refused.reason
    assert ledger.position(SYMBOL) is None
    rejected = RedisEventBus(client, namespace=namespace).tail("order.rejected")
    assert [e.payload.client_order_id for e in rejected] == ["c"]  # type: ignore[attr-defined]


def test_an_exit_for_a_position_no_longer_open_is_skipped(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0)
    fill(ledger, "b", Side.SELL, 1.0, 100.0)
    fill(ledger, "c", Side.BUY, 1.0, 100.0)  # a new position, a new id
    late = ledger.apply_fill(
        client_order_id="a:sl", symbol=SYMBOL, side=Side.SELL, quantity=1.0, price=90.0,
        fee=0.0, filled_at=T0, reduce_only=True, position_id="a", reason=FillReason.STOP_LOSS,
    )  # fmt: skip
    assert late.status == "skipped"
    position = ledger.position(SYMBOL)
    assert position is not None and position.quantity == 1.0


def test_a_cancelled_order_is_not_filled(ledger: Ledger) -> None:
    ack = ledger.record_order(Order.from_intent(make_intent("a"), eligible_after=T0))
    assert ack.accepted and not ack.duplicate
    assert ledger.cancel_order("a") is True
    assert ledger.cancel_order("a") is False
    result = ledger.apply_fill(
        client_order_id="a", symbol=SYMBOL, side=Side.BUY, quantity=1.0, price=100.0,
        fee=0.1, filled_at=T0, require_open_order=True,
    )  # fmt: skip
    assert result.status == "skipped"
    assert ledger.state().cash == 10_000.0


def test_stops_come_from_the_order_else_the_defaults_and_can_be_moved(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 1.0, 100.0, default_stop_loss=96.0, default_take_profit=106.0)
    fill(ledger, "b", Side.BUY, 1.0, 100.0, stop_loss=97.0, default_stop_loss=1.0)
    position = ledger.position(SYMBOL)
    assert position is not None
    assert (position.stop_loss, position.take_profit) == (97.0, 106.0)
    moved = ledger.set_stops(SYMBOL, stop_loss=99.0)
    assert moved is not None and (moved.stop_loss, moved.take_profit) == (99.0, 106.0)
    cleared = ledger.set_stops(SYMBOL, take_profit=None)
    assert cleared is not None and (cleared.stop_loss, cleared.take_profit) == (99.0, None)
    assert ledger.set_stops(SYMBOL, position_id="zzz", stop_loss=1.0) is None
    assert ledger.set_stops("ETH/USDT", stop_loss=1.0) is None


def test_a_position_without_a_mark_is_valued_at_its_average_price(ledger: Ledger) -> None:
    fill(ledger, "a", Side.BUY, 2.0, 100.0, fee=0.0)
    state = ledger.state({})
    assert state.unmarked == [SYMBOL]
    assert state.equity == 10_000.0
    with pytest.raises(DataError, match="BTC/USDT"):
        ledger.state({SYMBOL: float("nan")})


@pytest.mark.parametrize(
    ("field", "value"),
    [("price", float("nan")), ("price", 0.0), ("quantity", -1.0), ("fee", float("inf"))],
)
def test_a_bad_fill_raises_naming_the_field_and_writes_nothing(
    ledger: Ledger, client: redis.Redis, namespace: str, field: str, value: float
) -> None:
    values: dict[str, Any] = {"quantity": 1.0, "price": 100.0, "fee": 0.1}
    values[field] = value
    with pytest.raises(DataError, match=field):
        ledger.apply_fill(client_order_id="a", symbol=SYMBOL, side=Side.BUY, filled_at=T0, **values)
    assert client.keys(f"{namespace}:*") == []


def test_a_naive_fill_time_is_refused(ledger: Ledger) -> None:
    with pytest.raises(DataError, match="time zone"):
        ledger.apply_fill(
            client_order_id="a", symbol=SYMBOL, side=Side.BUY, quantity=1.0, price=100.0,
            fee=0.1, filled_at=T0.replace(tzinfo=None),
        )  # fmt: skip


def test_an_unreachable_server_is_a_temporary_error(namespace: str) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    with pytest.raises(TemporaryError, match="cannot read the ledger"):
        Ledger(dead, namespace=namespace).state()


def test_mark_bars_moves_each_symbol_forward_only_past_a_thousand_symbols(ledger: Ledger) -> None:
    """2,500 symbols, some new, some moved on, some given an older bar."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    names = [f"S{i:04d}/USDT" for i in range(2_500)]
    assert ledger.mark_bars({s: start for s in names[:1_500]}) == 1_500
    later = start + timedelta(minutes=5)
    bars = {s: later if i % 3 else start - timedelta(minutes=5) for i, s in enumerate(names)}
    moved = [s for i, s in enumerate(names) if i % 3 or i >= 1_500]  # older bars: only new ones
    assert ledger.mark_bars(bars) == len(moved)
    view = ledger.bar_view(names)
    for i, symbol in enumerate(names):
        last, step = view.last_bars[symbol]
        if i < 1_500:
            assert last == (later if i % 3 else start)
            assert step == (timedelta(minutes=5) if i % 3 else None)
        else:
            assert (last, step) == (bars[symbol], None)


def test_two_ledgers_marking_bars_of_other_symbols_lose_none(
    client: redis.Redis, namespace: str
) -> None:
    """The marks are one stored value: a writer that read it before another wrote computes
    again from the current one (and a ledger that never read it reads it first)."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    first, second = Ledger(client, namespace=namespace), Ledger(client, namespace=namespace)
    assert first.mark_bars({"A/USDT": start, "B/USDT": start}) == 2
    first.bar_view(["A/USDT"])
    assert second.mark_bars({"B/USDT": start + timedelta(minutes=5)}) == 1
    assert first.mark_bars({"A/USDT": start + timedelta(minutes=5)}) == 1
    assert first.mark_bar("C/USDT", start)
    assert not second.mark_bar("C/USDT", start)
    fresh = Ledger(client, namespace=namespace)
    assert fresh.bar_view(["A/USDT", "B/USDT", "C/USDT", "D/USDT"]).last_bars == {
        "A/USDT": (start + timedelta(minutes=5), timedelta(minutes=5)),
        "B/USDT": (start + timedelta(minutes=5), timedelta(minutes=5)),
        "C/USDT": (start, None),
        "D/USDT": (None, None),
    }
    assert fresh.last_bar("B/USDT") == (start + timedelta(minutes=5), timedelta(minutes=5))


def test_bars_marked_in_the_hashes_of_before_are_read_and_moved_into_the_marks(
    client: redis.Redis, namespace: str
) -> None:
    """A ledger written before the marks were one value (a hash field per symbol for the
    last bar, one for the spacing) keeps its bars: read from the hashes until the first
    write, which drops them."""
    start = datetime(2026, 3, 2, tzinfo=UTC)
    ledger = Ledger(client, namespace=namespace)
    us = (start - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    client.hset(ledger.keys["bars"], mapping={"A/USDT": us, "B/USDT": us})
    client.hset(ledger.keys["bar_step"], "A/USDT", 300_000_000)
    assert ledger.last_bar("A/USDT") == (start, timedelta(minutes=5))
    later = start + timedelta(minutes=5)
    assert ledger.mark_bars({"A/USDT": start, "B/USDT": later}) == 1
    assert not client.exists(ledger.keys["bars"], ledger.keys["bar_step"])
    assert Ledger(client, namespace=namespace).bar_view(["A/USDT", "B/USDT"]).last_bars == {
        "A/USDT": (start, timedelta(minutes=5)),
        "B/USDT": (later, timedelta(minutes=5)),
    }
