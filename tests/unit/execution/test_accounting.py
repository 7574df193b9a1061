"""The one accounting model: the pure apply_fill, and the ledger on real Redis writing
exactly what it computes."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.events import Event, InMemoryEventBus
from components.execution import Ledger
from components.execution.accounting import Execution, apply_fill, realised_pnl
from components.execution.models import Position
from components.trading.types import Side
from tests.unit.execution.builders import SYMBOL, T0


def execution(
    coid: str, quantity: float, price: float, fee: float = 0.0, **kwargs: Any
) -> Execution:
    return Execution(coid, SYMBOL, quantity, price, fee, T0, **kwargs)


def test_opening_realises_the_fee_and_takes_the_fill_price() -> None:
    applied = apply_fill(None, execution("a", 2.0, 100.0, 0.2, stop_loss=90.0))
    assert applied.realised == -0.2
    assert applied.position is not None
    assert (applied.position.quantity, applied.position.average_price) == (2.0, 100.0)
    assert (applied.position.id, applied.position.stop_loss) == ("a", 90.0)
    assert applied.closed is None


def test_adding_averages_the_price_and_a_partial_close_realises_at_the_average() -> None:
    position = apply_fill(None, execution("a", 1.0, 100.0)).position
    added = apply_fill(position, execution("b", 3.0, 120.0)).position
    assert added is not None and added.average_price == pytest.approx(115.0)
    reduced = apply_fill(added, execution("c", -1.0, 125.0, 0.5))
    assert reduced.realised == pytest.approx(10.0 - 0.5)
    assert reduced.position is not None
    assert (reduced.position.quantity, reduced.position.average_price) == (3.0, added.average_price)
    assert reduced.position_id == "a"


def test_a_flip_closes_the_position_and_opens_the_rest_with_its_share_of_the_fee() -> None:
    long = apply_fill(None, execution("a", 1.0, 100.0, 0.1)).position
    flipped = apply_fill(long, execution("b", -3.0, 110.0, 0.3))
    assert flipped.realised == pytest.approx(10.0 - 0.3)
    assert flipped.closed is not None and flipped.position is not None
    assert flipped.closed.realized_pnl == pytest.approx(-0.1 + 10.0 - 0.1)
    assert flipped.closed.direction == "long" and flipped.closed.exit_order_id == "b"
    assert flipped.position.quantity == -2.0 and flipped.position.id == "b"
    assert flipped.position.fees == pytest.approx(0.2)


def test_float_dust_left_by_a_close_closes_the_position() -> None:
    position = apply_fill(None, execution("a", 0.3, 100.0)).position
    closed = apply_fill(position, execution("b", -(0.1 + 0.2), 100.0))
    assert closed.position is None and closed.closed is not None


finite = st.floats(-5.0, 5.0).filter(lambda x: abs(x) > 1e-6)
price = st.floats(1.0, 1_000.0)


@given(
    st.lists(st.tuples(finite, price, finite, price, st.floats(0.0, 5.0)), min_size=1, max_size=20)
)
def test_realised_pnl_gives_the_same_numbers_one_by_one_and_as_arrays(rows: list[Any]) -> None:
    columns = [np.array(column) for column in zip(*rows, strict=True)]
    together = realised_pnl(*columns)
    one_by_one = [realised_pnl(*(float(v) for v in row)) for row in rows]
    assert together.tolist() == one_by_one


# --- the ledger writes what the model computes (real Redis) -----------------------------
fill_step = st.tuples(
    st.sampled_from([SYMBOL, "ETH/USDT"]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.one_of(st.floats(0.01, 5.0), st.sampled_from([0.1, 0.2, 0.3, 1.0])),
    st.floats(50.0, 150.0),
    st.floats(0.0, 0.01),  # fee rate
    st.sampled_from(["plain", "plain", "reduce_only", "stops"]),
)
_examples = itertools.count()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(fill_step, min_size=1, max_size=25))
def test_the_ledger_holds_exactly_what_apply_fill_computes_over_random_fills(
    client: redis.Redis, namespace: str, steps: list[Any]
) -> None:
    """Opens, adds, partial closes, flips and reduce-only cuts: every position, realised
    PnL, closed position and the cash are those of the pure model, to the last bit."""
    ledger = Ledger(client, namespace=f"{namespace}:{next(_examples)}")
    positions: dict[str, Position | None] = {}
    cash, realised_total, closed = ledger.initial_cash, 0.0, []
    for n, (symbol, side, quantity, fill_price, rate, kind) in enumerate(steps):
        at = T0 + n * timedelta(minutes=1)
        fee = quantity * fill_price * rate
        position = positions.get(symbol)
        levels: dict[str, Any] = {}
        if kind == "stops":
            levels = {"stop_loss": fill_price * 0.5, "default_take_profit": fill_price * 2}
        result = ledger.apply_fill(
            client_order_id=f"o{n}", symbol=symbol, side=side, quantity=quantity,
            price=fill_price, fee=fee, filled_at=at, reduce_only=kind == "reduce_only", **levels,
        )  # fmt: skip
        if kind == "reduce_only":
            if position is None or (position.quantity > 0) == (side is Side.BUY):
                assert result.status == "skipped"
                continue
            if quantity > abs(position.quantity):
                fee, quantity = fee * abs(position.quantity) / quantity, abs(position.quantity)
        expected = apply_fill(
            position,
            Execution(f"o{n}", symbol, side.sign * quantity, fill_price, fee, at, **levels),
        )
        assert result.status == "filled" and result.fill is not None
        assert result.fill.realized_pnl == expected.realised
        assert result.fill.position_id == expected.position_id
        assert ledger.position(symbol) == expected.position == result.position
        positions[symbol] = expected.position
        cash = cash - side.sign * quantity * fill_price - fee
        realised_total += expected.realised
        if expected.closed is not None:
            closed.insert(0, expected.closed)
    state = ledger.state(fills=0)
    assert state.cash == cash
    assert state.realized_pnl == realised_total
    assert state.positions == {s: p for s, p in sorted(positions.items()) if p is not None}
    assert ledger.closed_positions(limit=100) == closed
    assert all(math.isfinite(p.average_price) for p in state.positions.values())


def test_a_ledger_whose_view_is_stale_computes_the_fill_again(
    client: redis.Redis, namespace: str
) -> None:
    first, second = Ledger(client, namespace=namespace), Ledger(client, namespace=namespace)
    common = {"symbol": SYMBOL, "side": Side.BUY, "price": 100.0, "fee": 0.0, "filled_at": T0}
    first.apply_fill(client_order_id="a", quantity=1.0, **common)  # first now knows 1.0
    second.apply_fill(client_order_id="b", quantity=2.0, **common)  # moved behind its back
    result = first.apply_fill(client_order_id="c", quantity=4.0, **common)
    assert result.position is not None and result.position.quantity == 7.0
    assert second.position(SYMBOL) == result.position
    assert first.set_stops(SYMBOL, stop_loss=80.0) is not None
    assert second.set_stops(SYMBOL, take_profit=130.0) is not None  # its view was stale too
    position = first.position(SYMBOL)
    assert position is not None and (position.stop_loss, position.take_profit) == (80.0, 130.0)


def test_in_memory_subscribers_see_the_events_the_ledger_writes(
    client: redis.Redis, namespace: str
) -> None:
    bus = InMemoryEventBus()
    seen: list[Event] = []
    bus.subscribe(["trade.executed", "order.rejected"], seen.append, group="test")
    ledger = Ledger(client, namespace=namespace, bus=bus)
    ledger.apply_fill(
        client_order_id="a", symbol=SYMBOL, side=Side.BUY, quantity=1.0, price=100.0,
        fee=0.1, filled_at=T0,
    )  # fmt: skip
    ledger.apply_fill(
        client_order_id="b", symbol=SYMBOL, side=Side.BUY, quantity=1.0, price=100.0,
        fee=0.1, filled_at=T0, reduce_only=True,
    )  # fmt: skip
    bus.poll()
    assert [(e.type, e.correlation_id) for e in seen] == [
        ("trade.executed", "a"),
        ("order.rejected", "b"),
    ]
