"""Per-strategy PnL reconciles exactly with the ledger's fills.

The ledger's ``realized_pnl`` is net of the fill's own fee, so a strategy's net PnL is the
plain sum of ``realized_pnl`` over its fills; analytics adds in the same order, in doubles,
so the sums are equal to the last bit (and within 1e-9 whatever the order).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import timedelta

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.analytics import UNATTRIBUTED, Analytics
from components.events import RedisEventBus
from components.execution import Fill, Ledger
from components.redis import delete_namespace
from components.trading.types import Side
from tests.unit.analytics.builders import T0
from tests.unit.analytics.conftest import FAST
from tests.unit.events.test_bus_contract import drain

FEE_RATE = 0.001  # 10 bps

# (symbol, side, quantity, price, strategy): opens, adds, partial exits, a flip through
# zero (its fee split between the close and the new position), stops without a strategy.
SESSION = [
    ("BTC/USDT", Side.BUY, 0.0231, 43_123.45, "momentum"),
    ("ETH/USDT", Side.SELL, 1.37, 2_291.7, "mean_reversion"),
    ("BTC/USDT", Side.BUY, 0.0117, 43_410.02, "momentum"),
    ("SOL/USDT", Side.BUY, 42.5, 98.731, "ml"),
    ("BTC/USDT", Side.SELL, 0.0150, 44_002.9, "momentum"),
    ("ETH/USDT", Side.BUY, 0.52, 2_250.13, "mean_reversion"),
    ("SOL/USDT", Side.SELL, 60.0, 97.208, "ml"),  # closes 42.5, opens a 17.5 short
    ("BTC/USDT", Side.SELL, 0.0198, 42_871.33, "momentum"),  # closes the rest
    ("ETH/USDT", Side.BUY, 0.85, 2_310.57, None),  # a stop-loss exit with no strategy
    ("SOL/USDT", Side.BUY, 17.5, 95.114, "ml"),
    ("ETH/USDT", Side.BUY, 0.9, 2_301.0, "breakout"),
    ("ETH/USDT", Side.SELL, 0.9, 2_355.42, "breakout"),
]


def apply_session(
    ledger: Ledger, session: list[tuple[str, Side, float, float, str | None]]
) -> None:
    for n, (symbol, side, quantity, price, strategy) in enumerate(session):
        ledger.apply_fill(
            client_order_id=f"o{n}", symbol=symbol, side=side, quantity=quantity, price=price,
            fee=quantity * price * FEE_RATE, filled_at=T0 + timedelta(minutes=15 * n),
            strategy=strategy,
        )  # fmt: skip


def sums_by_strategy(fills: list[Fill]) -> dict[str, tuple[float, float, int]]:
    """(net PnL, fees, fills) per strategy, summed in fill order like a person would."""
    pnl: dict[str, float] = defaultdict(float)
    fees: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for fill in fills:
        name = fill.strategy or UNATTRIBUTED
        pnl[name] += fill.realized_pnl
        fees[name] += fill.fee
        count[name] += 1
    return {name: (pnl[name], fees[name], count[name]) for name in pnl}


def consume_session(
    client: redis.Redis, namespace: str, session: list[tuple[str, Side, float, float, str | None]]
) -> tuple[Ledger, Analytics]:
    ledger = Ledger(client, namespace=namespace)
    analytics = Analytics(client, namespace=namespace)
    bus = RedisEventBus(client, namespace=namespace, config=FAST)
    analytics.attach(bus)
    apply_session(ledger, session)
    drain(bus, lambda: analytics.totals().fills == len(session))
    return ledger, analytics


def test_strategy_pnl_equals_the_sum_over_the_ledgers_fills_exactly(
    client: redis.Redis, namespace: str
) -> None:
    ledger, analytics = consume_session(client, namespace, SESSION)
    fills = ledger.fills()
    assert len(fills) == len(SESSION)

    metrics = analytics.strategy_metrics()
    expected = sums_by_strategy(fills)
    assert set(metrics) == set(expected) == {
        "momentum", "mean_reversion", "ml", "breakout", UNATTRIBUTED,
    }  # fmt: skip
    for name, (pnl, fees, count) in expected.items():
        assert metrics[name].pnl == pnl, name  # same additions, same order: bit for bit
        assert math.isclose(metrics[name].pnl, math.fsum(
            f.realized_pnl for f in fills if (f.strategy or UNATTRIBUTED) == name
        ), rel_tol=0, abs_tol=1e-9)  # fmt: skip
        assert metrics[name].fees == fees
        assert metrics[name].fills == count
    # the whole account: the ledger's own running total, and its equity identity
    state = ledger.state()
    assert analytics.totals().pnl == state.realized_pnl
    assert analytics.totals().fees == state.fees_paid
    closed = {p.strategy or UNATTRIBUTED for p in ledger.closed_positions()}
    assert closed <= set(metrics)


def test_every_closing_fill_of_the_ledger_is_a_trade_and_no_opening_fill_is(
    client: redis.Redis, namespace: str
) -> None:
    ledger, analytics = consume_session(client, namespace, SESSION)
    fills = ledger.fills()

    records = {t.client_order_id: t for t in analytics.trades()}
    held: dict[str, float] = defaultdict(float)
    reducing = 0
    for fill in fills:  # a fill closes (part of) a position when it trades against one
        before = held[fill.symbol]
        closes = before != 0 and (before > 0) != (fill.side is Side.BUY)
        assert records[fill.client_order_id].closing == closes, fill.client_order_id
        reducing += closes
        after = before + fill.signed_quantity
        held[fill.symbol] = 0.0 if abs(after) <= 1e-9 * abs(before) else after  # ledger's dust
    assert reducing == 7
    assert analytics.totals().trades == reducing


fill_steps = st.lists(
    st.tuples(
        st.sampled_from(["BTC/USDT", "ETH/USDT"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.floats(0.001, 3.0, allow_nan=False).map(lambda q: round(q, 4)),
        st.floats(50.0, 60_000.0, allow_nan=False).map(lambda p: round(p, 2)),
        st.sampled_from(["momentum", "ml", None]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(session=fill_steps)
def test_any_sequence_of_fills_reconciles_exactly(
    client: redis.Redis, session: list[tuple[str, Side, float, float, str | None]]
) -> None:
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    try:
        ledger, analytics = consume_session(client, namespace, session)
        expected = sums_by_strategy(ledger.fills())
        metrics = analytics.strategy_metrics()
        assert {name: (m.pnl, m.fees, m.fills) for name, m in metrics.items()} == expected
        assert analytics.totals().pnl == ledger.state().realized_pnl
    finally:
        delete_namespace(client, namespace)
