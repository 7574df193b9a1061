from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import redis

from components.errors import DataError
from components.events import RedisEventBus
from components.execution import (
    Bar,
    BarOpen,
    Broker,
    BrokerConfig,
    CostModel,
    FillReason,
    Ledger,
    PaperBroker,
)
from components.trading.types import Side
from tests.unit.execution.builders import (
    SYMBOL,
    bar_at,
    make_bar,
    make_intent,
    trade_events,
    trade_ids,
)


def open_long(broker: PaperBroker, quantity: float = 1.0, **kwargs: Any) -> None:
    """Buy at bar 1's open (100): submitted after bar 0, filled on bar 1."""
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    assert broker.submit(make_intent("entry", Side.BUY, quantity, **kwargs)).accepted
    [entry] = broker.on_bar(SYMBOL, make_bar(100.0, high=100.5, low=99.5), bar_at(1))
    assert entry.client_order_id == "entry"


def test_the_paper_broker_keeps_the_broker_protocol(broker: PaperBroker) -> None:
    assert isinstance(broker, Broker)


def test_a_market_order_fills_at_the_next_bars_open_with_spread_and_slippage(
    broker: PaperBroker, costs: CostModel
) -> None:
    broker.on_bar(SYMBOL, make_bar(99.0), bar_at(0))
    broker.submit(make_intent("o1", Side.BUY, 2.0))
    assert broker.on_bar(SYMBOL, make_bar(99.0), bar_at(0)) == []  # the same bar again
    [fill] = broker.on_bar(SYMBOL, make_bar(101.0), bar_at(1))
    assert fill.price == pytest.approx(101.0 * (1 + (2 / 2 + 2) / 10_000))
    assert fill.price == costs.fill_price(+1, 101.0)
    assert fill.filled_at == bar_at(1)
    assert fill.fee == pytest.approx(2.0 * fill.price * 10 / 10_000)


def test_a_sell_receives_below_the_next_open(broker: PaperBroker, costs: CostModel) -> None:
    broker.submit(make_intent("o1", Side.SELL, 1.0))
    [fill] = broker.on_bar(SYMBOL, make_bar(100.0), bar_at(1))
    assert fill.price == costs.fill_price(-1, 100.0) < 100.0


def test_an_order_never_fills_on_a_bar_that_closed_before_it_was_created(
    broker: PaperBroker,
) -> None:
    broker.submit(make_intent("o1", created_at=bar_at(1)))  # decided at bar 0's close
    assert broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0)) == []
    assert [f.client_order_id for f in broker.on_bar(SYMBOL, make_bar(100.0), bar_at(1))] == ["o1"]


def test_an_order_created_late_in_a_bar_fills_at_that_bars_successor_once_spacing_is_known(
    broker: PaperBroker,
) -> None:
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(1))
    broker.submit(make_intent("o1", created_at=bar_at(2) + timedelta(minutes=5)))
    [fill] = broker.on_bar(SYMBOL, make_bar(102.0), bar_at(2))
    assert fill.filled_at == bar_at(2)


def test_a_bar_older_than_the_last_one_processed_fills_nothing(broker: PaperBroker) -> None:
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(5))
    broker.submit(make_intent("o1", created_at=bar_at(1)))
    assert broker.on_bar(SYMBOL, make_bar(100.0), bar_at(3)) == []
    assert len(broker.on_bar(SYMBOL, make_bar(100.0), bar_at(6))) == 1


def test_a_limit_buy_fills_when_the_low_reaches_it_at_the_limit_or_a_better_open(
    broker: PaperBroker,
) -> None:
    broker.submit(make_intent("a", Side.BUY, limit_price=98.0))
    broker.submit(make_intent("b", Side.BUY, limit_price=99.0))
    assert broker.on_bar(SYMBOL, make_bar(100.0, high=101.0, low=98.5), bar_at(1)) != []
    assert [o.client_order_id for o in broker.open_orders()] == ["a"]
    [fill] = broker.on_bar(SYMBOL, make_bar(97.0, high=97.5, low=96.0), bar_at(2))
    assert (fill.client_order_id, fill.price) == ("a", 97.0)  # gapped below the limit


def test_a_limit_sell_fills_when_the_high_reaches_it(broker: PaperBroker) -> None:
    broker.submit(make_intent("a", Side.SELL, limit_price=102.0))
    assert broker.on_bar(SYMBOL, make_bar(100.0, high=101.9, low=99.0), bar_at(1)) == []
    [fill] = broker.on_bar(SYMBOL, make_bar(100.0, high=102.5, low=99.0), bar_at(2))
    assert fill.price == 102.0
    assert fill.fee == pytest.approx(102.0 * 10 / 10_000)


def test_the_same_client_order_id_submitted_twice_fills_once(
    broker: PaperBroker, client: redis.Redis, namespace: str
) -> None:
    first = broker.submit(make_intent("o1"))
    second = broker.submit(make_intent("o1", quantity=5.0))
    assert (first.accepted, first.duplicate) == (True, False)
    assert (second.accepted, second.duplicate) == (True, True)
    assert len(broker.on_bar(SYMBOL, make_bar(100.0), bar_at(1))) == 1
    third = broker.submit(make_intent("o1"))
    assert third.duplicate
    assert broker.on_bar(SYMBOL, make_bar(100.0), bar_at(2)) == []
    assert len(trade_events(client, namespace)) == 1
    position = broker.ledger.position(SYMBOL)
    assert position is not None and position.quantity == 1.0


def test_a_restarted_broker_never_places_or_fills_an_order_twice(
    client: redis.Redis, namespace: str, costs: CostModel
) -> None:
    before = PaperBroker(Ledger(client, namespace=namespace), costs)
    before.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    before.submit(make_intent("filled", stop_loss=50.0))
    before.submit(make_intent("pending", limit_price=90.0))
    before.submit(make_intent("cancelled", limit_price=80.0))
    before.cancel("cancelled")
    before.on_bar(SYMBOL, make_bar(100.0), bar_at(1))

    after = PaperBroker(Ledger(client, namespace=namespace), costs)  # a new process, say
    assert [o.client_order_id for o in after.open_orders()] == ["pending"]
    for coid in ("filled", "pending", "cancelled"):
        assert after.submit(make_intent(coid)).duplicate
    assert after.on_bar(SYMBOL, make_bar(100.0), bar_at(1)) == []  # the replayed bar
    [late] = after.on_bar(SYMBOL, make_bar(95.0, high=96.0, low=89.0), bar_at(2))
    assert late.client_order_id == "pending"
    assert trade_ids(client, namespace) == ["filled", "pending"]


def test_cancel_all_cancels_every_open_order_of_a_symbol(broker: PaperBroker) -> None:
    broker.submit(make_intent("a", limit_price=90.0))
    broker.submit(make_intent("b", limit_price=90.0, symbol="ETH/USDT"))
    assert broker.cancel_all(SYMBOL) == ["a"]
    assert broker.cancel_all() == ["b"]
    assert broker.open_orders() == []
    assert broker.on_bar(SYMBOL, make_bar(85.0), bar_at(1)) == []


def test_a_stop_loss_closes_the_position_at_the_stop_with_slippage(
    broker: PaperBroker, costs: CostModel, client: redis.Redis, namespace: str
) -> None:
    open_long(broker, stop_loss=95.0, take_profit=120.0)
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(98.0, high=99.0, low=94.0), bar_at(2))
    assert exit_fill.client_order_id == "entry:sl"
    assert exit_fill.reason is FillReason.STOP_LOSS
    assert exit_fill.side is Side.SELL
    assert exit_fill.price == costs.fill_price(-1, 95.0)
    assert broker.ledger.position(SYMBOL) is None
    assert trade_ids(client, namespace) == ["entry", "entry:sl"]


def test_a_gap_through_the_stop_fills_at_the_open(broker: PaperBroker, costs: CostModel) -> None:
    open_long(broker, stop_loss=95.0)
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(90.0, high=91.0, low=89.0), bar_at(2))
    assert exit_fill.price == costs.fill_price(-1, 90.0)


def test_stops_without_slippage_fill_exactly_at_the_stop(
    client: redis.Redis, namespace: str, costs: CostModel
) -> None:
    broker = PaperBroker(Ledger(client, namespace=namespace), costs, BrokerConfig(slip_stops=False))
    open_long(broker, stop_loss=95.0)
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(98.0, high=99.0, low=94.0), bar_at(2))
    assert exit_fill.price == 95.0


def test_a_take_profit_closes_the_position_at_its_target(broker: PaperBroker) -> None:
    open_long(broker, stop_loss=95.0, take_profit=110.0)
    assert broker.on_bar(SYMBOL, make_bar(105.0, high=109.0, low=104.0), bar_at(2)) == []
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(108.0, high=112.0, low=107.0), bar_at(3))
    assert (exit_fill.client_order_id, exit_fill.price) == ("entry:tp", 110.0)
    assert exit_fill.realized_pnl > 0


def test_a_short_is_stopped_when_the_price_rises(broker: PaperBroker, costs: CostModel) -> None:
    broker.submit(make_intent("short", Side.SELL, stop_loss=105.0, take_profit=90.0))
    broker.on_bar(SYMBOL, make_bar(100.0, high=100.5, low=99.5), bar_at(1))
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(103.0, high=106.0, low=102.0), bar_at(2))
    assert (exit_fill.client_order_id, exit_fill.side) == ("short:sl", Side.BUY)
    assert exit_fill.price == costs.fill_price(+1, 105.0)


def test_when_one_bar_reaches_both_the_stop_is_assumed_first(broker: PaperBroker) -> None:
    open_long(broker, stop_loss=95.0, take_profit=110.0)
    [exit_fill] = broker.on_bar(SYMBOL, make_bar(100.0, high=111.0, low=94.0), bar_at(2))
    assert exit_fill.reason is FillReason.STOP_LOSS


def test_a_replayed_bar_cannot_close_a_position_twice(
    client: redis.Redis, namespace: str, costs: CostModel
) -> None:
    broker = PaperBroker(Ledger(client, namespace=namespace), costs)
    open_long(broker, stop_loss=95.0)
    stop_bar = make_bar(98.0, high=99.0, low=94.0)
    assert len(broker.on_bar(SYMBOL, stop_bar, bar_at(2))) == 1
    broker.submit(make_intent("again", created_at=bar_at(3)))
    restarted = PaperBroker(Ledger(client, namespace=namespace), costs)
    assert restarted.on_bar(SYMBOL, stop_bar, bar_at(2)) == []
    ids = [f.client_order_id for f in restarted.ledger.fills()]
    assert ids.count("entry:sl") == 1


def test_default_stops_are_atr_multiples_around_the_fill_of_the_atr_known_at_it(
    broker: PaperBroker,
) -> None:
    broker.submit(make_intent("o1"))
    bar = make_bar(100.0, high=100.1, low=99.9)
    # atr: through this bar (for the trailing stop); entry_atr: known at its open
    [fill] = broker.on_bar(SYMBOL, bar, bar_at(1), atr=50.0, entry_atr=2.0)
    position = broker.ledger.position(SYMBOL)
    assert position is not None
    assert position.stop_loss == pytest.approx(fill.price - 4.0)
    assert position.take_profit == pytest.approx(fill.price + 6.0)


def test_an_order_fills_at_the_open_of_the_forming_bar_as_soon_as_it_is_known(
    client: redis.Redis, namespace: str, costs: CostModel
) -> None:
    at_close = PaperBroker(Ledger(client, namespace=f"{namespace}:close"), costs)
    at_open = PaperBroker(Ledger(client, namespace=f"{namespace}:open"), costs)
    bar = make_bar(101.0, high=101.5, low=100.5, close=101.2)
    for b in (at_close, at_open):
        b.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
        assert b.submit(make_intent("o1")).accepted
    assert at_open.on_opens([BarOpen(SYMBOL, 101.0, bar_at(0), atr=2.0)]) == []  # bar 0: closed
    [opened] = at_open.on_opens([BarOpen(SYMBOL, 101.0, bar_at(1), atr=2.0)])
    assert at_open.ledger.open_orders() == []
    assert at_open.on_opens([BarOpen(SYMBOL, 101.0, bar_at(1), atr=2.0)]) == []  # once
    [closed] = at_close.on_bar(SYMBOL, bar, bar_at(1), entry_atr=2.0)
    assert at_open.on_bar(SYMBOL, bar, bar_at(1), entry_atr=2.0) == []  # filled already
    assert opened.model_dump(exclude={"position_id"}) == closed.model_dump(exclude={"position_id"})
    held = [b.ledger.position(SYMBOL) for b in (at_open, at_close)]
    assert [p.model_dump(exclude={"id"}) for p in held if p is not None] == [
        held[1].model_dump(exclude={"id"})  # type: ignore[union-attr]
    ] * 2


def test_a_bar_from_before_a_fill_at_the_open_never_fires_its_exits(broker: PaperBroker) -> None:
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    broker.submit(make_intent("o1", stop_loss=99.0))
    [entry] = broker.on_opens([BarOpen(SYMBOL, 100.0, bar_at(1))])
    # A later cycle inside bar 1 sees bar 0 again: its low (99) is before the entry.
    assert broker.on_bar(SYMBOL, make_bar(100.0, low=98.0), bar_at(0)) == []
    [stop] = broker.on_bar(SYMBOL, make_bar(100.0, low=98.0), bar_at(1))
    assert (stop.reason, stop.position_id) == (FillReason.STOP_LOSS, entry.position_id)


def test_a_limit_order_the_open_does_not_reach_waits_for_the_bar(broker: PaperBroker) -> None:
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    broker.submit(make_intent("o1", type="limit", limit_price=99.0))
    assert broker.on_opens([BarOpen(SYMBOL, 100.0, bar_at(1))]) == []
    [fill] = broker.on_bar(SYMBOL, make_bar(100.0, low=98.5), bar_at(1))
    assert fill.price == pytest.approx(99.0)


def test_a_bad_open_fills_nothing(broker: PaperBroker) -> None:
    broker.on_bar(SYMBOL, make_bar(100.0), bar_at(0))
    broker.submit(make_intent("o1"))
    with pytest.raises(DataError, match="not a positive number"):
        broker.on_opens(
            [BarOpen(SYMBOL, 100.0, bar_at(1)), BarOpen(SYMBOL, float("nan"), bar_at(1))]
        )
    assert [o.client_order_id for o in broker.ledger.open_orders()] == ["o1"]


def test_without_an_atr_given_the_broker_uses_the_atr_of_the_bars_it_has_seen(
    broker: PaperBroker,
) -> None:
    for i in range(3):
        broker.on_bar(SYMBOL, Bar(open=100.0, high=101.0, low=99.0, close=100.0), bar_at(i))
    broker.submit(make_intent("o1", created_at=bar_at(3)))
    [fill] = broker.on_bar(SYMBOL, make_bar(100.0, high=100.1, low=99.9), bar_at(3))
    position = broker.ledger.position(SYMBOL)
    assert position is not None and position.stop_loss is not None
    assert position.stop_loss == pytest.approx(fill.price - 2 * 2.0)  # true range 2 per bar


def test_a_reduce_only_order_with_nothing_to_reduce_is_refused_with_an_event(
    broker: PaperBroker, client: redis.Redis, namespace: str
) -> None:
    ack = broker.submit(make_intent("r1", Side.SELL, reduce_only=True, correlation_id="sig-1"))
    assert not ack.accepted
    assert "reduce-only" in ack.reason
    assert broker.submit(make_intent("r1", Side.SELL, reduce_only=True)).duplicate
    [event] = RedisEventBus(client, namespace=namespace).tail("order.rejected")
    assert event.payload.check == "reduce_only"  # type: ignore[attr-defined]
    assert event.correlation_id == "sig-1"  # the signal that caused the order
    assert broker.on_bar(SYMBOL, make_bar(100.0), bar_at(1)) == []


def test_a_reduce_only_order_is_cut_to_the_position(broker: PaperBroker) -> None:
    open_long(broker, quantity=1.0)
    assert broker.submit(
        make_intent("r1", Side.SELL, 5.0, reduce_only=True, created_at=bar_at(2))
    ).accepted
    [fill] = broker.on_bar(SYMBOL, make_bar(100.0), bar_at(2))
    assert fill.quantity == 1.0
    assert broker.ledger.position(SYMBOL) is None


def test_a_reduce_only_order_is_skipped_when_the_position_is_gone_by_the_fill(
    broker: PaperBroker,
) -> None:
    open_long(broker, quantity=1.0, stop_loss=95.0)
    broker.submit(make_intent("r1", Side.SELL, 1.0, reduce_only=True, created_at=bar_at(2)))
    broker.submit(make_intent("short", Side.SELL, 3.0, created_at=bar_at(2)))
    fills = broker.on_bar(SYMBOL, make_bar(100.0), bar_at(2))
    assert [f.client_order_id for f in fills] == ["r1", "short"]
    broker.submit(make_intent("r2", Side.SELL, 1.0, reduce_only=True, created_at=bar_at(3)))
    assert broker.on_bar(SYMBOL, make_bar(100.0), bar_at(3)) == []
    position = broker.ledger.position(SYMBOL)
    assert position is not None and position.quantity == -3.0


@pytest.mark.parametrize(
    ("kwargs", "check"),
    [
        ({"stop_loss": 101.0}, "stop_loss"),
        ({"take_profit": 99.0}, "take_profit"),
        ({"type": "limit"}, "limit_price"),
    ],
)
def test_an_order_with_inconsistent_levels_is_refused_with_the_reason(
    broker: PaperBroker, kwargs: dict[str, Any], check: str
) -> None:
    ack = broker.submit(make_intent("o1", Side.BUY, **kwargs))
    assert not ack.accepted
    assert check in ack.reason


@pytest.mark.parametrize(
    ("bar", "message"),
    [
        ({"open": 100.0, "high": 99.0, "low": 98.0, "close": 98.5}, "bracket"),
        ({"open": float("nan"), "high": 101.0, "low": 99.0, "close": 100.0}, "open"),
        ({"open": 100.0, "high": 101.0, "low": -1.0, "close": 100.0}, "low"),
        ({"open": 100.0, "high": 101.0, "low": 99.0}, "close"),
    ],
)
def test_a_bad_bar_raises_naming_the_symbol_and_fills_nothing(
    broker: PaperBroker, bar: dict[str, float], message: str
) -> None:
    broker.submit(make_intent("o1"))
    with pytest.raises(DataError, match=rf"BTC/USDT bar at .*{message}"):
        broker.on_bar(SYMBOL, bar, bar_at(1))
    assert broker.ledger.fills() == []


def test_a_row_of_a_bars_frame_is_a_bar(broker: PaperBroker) -> None:
    frame = pd.DataFrame(
        {"open": [100.0], "high": [101.0], "low": [99.0], "close": [100.5], "volume": [1.0]},
        index=pd.DatetimeIndex([bar_at(1)], name="timestamp"),
    )
    broker.submit(make_intent("o1"))
    [fill] = broker.on_bar(SYMBOL, frame.iloc[0], frame.index[0].to_pydatetime())
    assert fill.filled_at == bar_at(1)
