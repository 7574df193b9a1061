"""The ledger across processes: what one writes another reads exactly, and concurrent
writers lose nothing."""

from __future__ import annotations

import math
import multiprocessing
import subprocess
import sys
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import redis

from components.execution import Ledger, LedgerState
from components.settings import Settings
from components.trading.types import Side
from tests.unit.execution.builders import T0, trade_events

REPO = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from datetime import UTC, datetime

from components.execution import Ledger
from components.settings import load_settings
from components.trading.types import Side

T0 = datetime(2026, 1, 1, tzinfo=UTC)

ledger = Ledger.connect(load_settings())
ledger.apply_fill(client_order_id="a", symbol="BTC/USDT", side=Side.BUY, quantity=0.0123,
                  price=43210.98765, fee=0.531, filled_at=T0, strategy="momentum",
                  default_stop_loss=41000.5)
ledger.apply_fill(client_order_id="b", symbol="BTC/USDT", side=Side.SELL, quantity=0.0023,
                  price=44444.4, fee=0.102, filled_at=T0)
ledger.apply_fill(client_order_id="c", symbol="ETH/USDT", side=Side.SELL, quantity=1.7,
                  price=2345.6789, fee=3.98, filled_at=T0)
sys.stdout.write(ledger.state({"BTC/USDT": 43999.1, "ETH/USDT": 2300.3}).model_dump_json())
"""


def test_a_ledger_written_by_one_process_is_read_identically_by_another(
    client: redis.Redis, settings: Settings, qt_env: dict[str, str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRITER],
        env=qt_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    theirs = LedgerState.model_validate_json(done.stdout)
    mine = Ledger(client, namespace=settings.namespace).state(
        {"BTC/USDT": 43999.1, "ETH/USDT": 2300.3}
    )
    assert mine == theirs
    assert mine.positions["BTC/USDT"].stop_loss == 41000.5
    assert len(mine.fills) == 3


FILLS_PER_PROCESS = 400


def _fill_many(url: str, namespace: str, symbol: str, start: EventType) -> None:
    ledger = Ledger(redis.Redis.from_url(url, decode_responses=True), namespace=namespace)
    start.wait(30)
    for i in range(FILLS_PER_PROCESS):
        side = Side.BUY if i % 3 != 2 else Side.SELL
        ledger.apply_fill(
            client_order_id=f"{symbol}:{i}", symbol=symbol, side=side, quantity=0.5 + i % 7,
            price=100.0 + i * 0.37, fee=0.01 * (1 + i % 5), filled_at=T0,
        )  # fmt: skip


def test_concurrent_fills_from_two_processes_for_different_symbols_lose_nothing(
    client: redis.Redis, settings: Settings
) -> None:
    assert settings.redis_url is not None
    url = settings.redis_url.get_secret_value()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    symbols = ["BTC/USDT", "ETH/USDT"]
    workers = [
        context.Process(target=_fill_many, args=(url, settings.namespace, symbol, start))
        for symbol in symbols
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    ledger = Ledger(client, namespace=settings.namespace)
    fills = ledger.fills()
    expected = {f"{s}:{i}" for s in symbols for i in range(FILLS_PER_PROCESS)}
    assert {f.client_order_id for f in fills} == expected
    assert len(fills) == len(expected)
    assert len(trade_events(client, settings.namespace, count=10_000)) == len(expected)
    state = ledger.state({s: 150.0 for s in symbols})
    flows = sum(f.signed_quantity * f.price + f.fee for f in fills)
    assert math.isclose(state.cash, state.initial_cash - flows, rel_tol=1e-12)
    assert math.isclose(
        state.realized_pnl, sum(f.realized_pnl for f in fills), rel_tol=1e-9, abs_tol=1e-9
    )
    for symbol in symbols:  # one writer per symbol: its position is exactly the sequential one
        held = sum(f.signed_quantity for f in fills if f.symbol == symbol)
        assert math.isclose(state.positions[symbol].quantity, held, rel_tol=1e-12)
