"""Property tests of the ledger and the paper broker over random orders and random bars."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.execution import Bar, CostModel, FillResult, Ledger, PaperBroker
from components.trading.types import Side
from tests.unit.execution.builders import bar_at, make_intent, trade_ids

SYMBOLS = ("BTC/USDT", "ETH/USDT")


class CheckedLedger(Ledger):
    """A real ledger that checks the accounting identities after every fill it applies."""

    marks: dict[str, float]

    def apply_fill(self, **kwargs: Any) -> FillResult:
        result = super().apply_fill(**kwargs)
        if result.status == "filled":
            check_accounting(self, self.marks)
        return result


def check_accounting(ledger: Ledger, marks: dict[str, float]) -> None:
    state = ledger.state(marks, fills=0)
    fills = ledger.fills()
    value = sum(p.quantity * state.marks[s] for s, p in state.positions.items())
    assert state.equity == state.cash + value
    assert ledger.snapshot(marks).equity == state.equity
    scale = state.initial_cash + sum(f.notional for f in fills)
    tolerance = 1e-9 * scale
    pnl = state.initial_cash + state.realized_pnl + state.unrealized_pnl
    assert math.isclose(state.equity, pnl, abs_tol=tolerance)
    flows = sum(f.signed_quantity * f.price + f.fee for f in fills)
    assert math.isclose(state.cash, state.initial_cash - flows, abs_tol=tolerance)
    held: dict[str, float] = defaultdict(float)
    for f in fills:
        held[f.symbol] += f.signed_quantity
    for symbol in SYMBOLS:
        position = state.positions.get(symbol)
        quantity = position.quantity if position else 0.0
        assert math.isclose(quantity, held[symbol], abs_tol=1e-6 * max(1.0, abs(quantity)))


order = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(SYMBOLS),
        "side": st.sampled_from([Side.BUY, Side.SELL]),
        "quantity": st.floats(0.01, 5.0),
        "kind": st.sampled_from(["market", "limit", "reduce_only", "cancel", "resubmit"]),
        "offset": st.floats(-0.05, 0.05),
    }
)
bar_move = st.tuples(st.floats(-0.05, 0.05), st.floats(0, 0.04), st.floats(0, 0.04))
step = st.tuples(st.lists(order, max_size=3), bar_move, bar_move)

_examples = itertools.count()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_equity_is_cash_plus_positions_after_every_fill_and_orders_fill_once_and_late(
    client: redis.Redis, namespace: str, steps: list[Any]
) -> None:
    space = f"{namespace}:{next(_examples)}"
    ledger = CheckedLedger(client, namespace=space)
    ledger.marks = {}
    broker = PaperBroker(ledger, CostModel(fee_bps=10, slippage_bps=3))
    prices = dict.fromkeys(SYMBOLS, 100.0)
    submitted_at: dict[str, datetime] = {}
    reduce_only: set[str] = set()
    ids = itertools.count()
    for t, (orders, *moves) in enumerate(steps, start=1):
        for spec in orders:
            if spec["kind"] == "cancel" and submitted_at:
                broker.cancel(sorted(submitted_at)[-1])
                continue
            if spec["kind"] == "resubmit" and submitted_at:
                assert broker.submit(make_intent(sorted(submitted_at)[0])).duplicate
                continue
            coid = f"o{next(ids)}"
            extra: dict[str, Any] = {}
            if spec["kind"] == "limit":
                extra["limit_price"] = prices[spec["symbol"]] * (1 + spec["offset"])
            if spec["kind"] == "reduce_only":
                extra["reduce_only"] = True
                reduce_only.add(coid)
            intent = make_intent(
                coid, spec["side"], spec["quantity"], symbol=spec["symbol"],
                created_at=bar_at(t), reference_price=prices[spec["symbol"]], **extra,
            )  # fmt: skip
            if broker.submit(intent).accepted:
                submitted_at[coid] = bar_at(t)
        for symbol, (drift, up, down) in zip(SYMBOLS, moves, strict=True):
            open_ = prices[symbol]
            close = open_ * (1 + drift)
            bar = Bar(open_, max(open_, close) * (1 + up), min(open_, close) * (1 - down), close)
            ledger.marks[symbol] = open_  # fills happen at the open
            for fill in broker.on_bar(symbol, bar, bar_at(t)):
                if fill.client_order_id in submitted_at:  # not before the bar after its decision
                    assert fill.filled_at >= submitted_at[fill.client_order_id]
            ledger.marks[symbol] = prices[symbol] = close
    check_accounting(ledger, ledger.marks)
    fills = ledger.fills()
    assert len({f.client_order_id for f in fills}) == len(fills)
    held: dict[str, float] = defaultdict(float)
    for fill in fills:  # reduce-only orders and exits only ever shrink a position
        before = held[fill.symbol]
        held[fill.symbol] += fill.signed_quantity
        if fill.client_order_id in reduce_only or fill.reason != "order":
            assert before != 0
            assert abs(held[fill.symbol]) < abs(before) + 1e-9
            assert held[fill.symbol] * before >= -1e-9
    assert trade_ids(client, space) == [f.client_order_id for f in fills]
