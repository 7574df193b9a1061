"""Invariants of an account that must hold whatever happened to the processes that wrote
it (a kill -9 mid-cycle, a restart, Redis gone and back): checks that say, in words, every
way they do not hold."""

from __future__ import annotations

import math
from collections import Counter

import redis

from components.events import RedisEventBus
from components.execution import Ledger


def ledger_violations(client: redis.Redis, namespace: str) -> list[str]:
    """Every way the ledger of ``namespace`` disagrees with itself: a client order id filled
    or logged twice, fills without their ``trade.executed`` event (or the reverse), cash or
    positions that are not the sum of the fills. Empty when consistent."""
    ledger = Ledger(client, namespace=namespace)
    fills = ledger.fills(limit=None)
    problems = []
    per_order, _ = _fill_counts(client, namespace)
    twice = duplicate_fills(client, namespace)
    if twice:
        problems.append(f"client order ids filled twice: {twice[:5]}")
    if sorted(per_order) != sorted(f.client_order_id for f in fills):
        problems.append("trade.executed events and ledger fills disagree")
    state = ledger.state()
    cash = state.initial_cash - sum(f.signed_quantity * f.price + f.fee for f in fills)
    if not math.isclose(state.cash, cash, rel_tol=1e-9, abs_tol=1e-6):
        problems.append(f"cash {state.cash!r} is not the fills' {cash!r}")
    held: Counter[str] = Counter()
    for fill in fills:
        held[fill.symbol] += fill.signed_quantity
    for symbol, quantity in held.items():
        position = state.positions.get(symbol)
        expected = position.quantity if position else 0.0
        if not math.isclose(quantity, expected, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{symbol}: fills sum to {quantity!r}, position holds {expected!r}")
    extra = set(state.positions) - {s for s, q in held.items() if abs(q) > 1e-9}
    if extra:
        problems.append(f"positions without fills: {sorted(extra)}")
    return problems


def _fill_counts(client: redis.Redis, namespace: str) -> tuple[Counter[str], Counter[str]]:
    """Per client order id: its ``trade.executed`` events, and its fill-log entries."""
    events = RedisEventBus(client, namespace=namespace).tail("trade.executed", count=1_000_000)
    per_order = Counter(e.payload.client_order_id for e in events)  # type: ignore[attr-defined]
    fill_log = Ledger(client, namespace=namespace).keys["fill_log"]
    logged: Counter[str] = Counter(client.lrange(fill_log, 0, -1))  # type: ignore[arg-type]
    return per_order, logged


def duplicate_fills(client: redis.Redis, namespace: str) -> list[str]:
    """Client order ids with more than one ``trade.executed`` event or fill-log entry: an
    order placed twice."""
    per_order, logged = _fill_counts(client, namespace)
    return sorted(c for c in set(per_order) | set(logged) if per_order[c] > 1 or logged[c] > 1)
