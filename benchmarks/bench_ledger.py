"""Ledger: how fast fills are applied, and what an engine cycle's bars cost it.

1. Fills: ``--fills`` fills (seeded, over 5 symbols: opens, adds, partial closes, flips)
   through ``Ledger.apply_fill``, one after another: fills/s and Redis commands per fill.
2. A cycle's bars: ``PaperBroker.on_bars`` with the newest bar of each of N symbols
   (``--symbols``, default 50,500), a tenth of them holding a position with stops the bars
   do not reach (so every position's exit is checked, nothing fills): ms per cycle (p50)
   and Redis commands and round trips per cycle, with trailing stops off and on (prices
   rise every bar, so every trailing stop moves). Target: commands per cycle that do not
   grow with the symbols (the ratio of the largest to the smallest <= 1.2x).

    python benchmarks/bench_ledger.py [--fills 3000] [--symbols 50,500] [--cycles 40] [--json]

The machine may be busy with other work: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    Figure,
    count_commands,
    load_average,
    percentile,
    report,
    scratch_settings,
)
from components.execution import Bar, BarUpdate, BrokerConfig, CostModel, Ledger, PaperBroker
from components.redis import connect
from components.settings import Settings
from components.trading.types import Side

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
TARGET_GROWTH = 1.2


def fill_rate(settings: Settings, count: int) -> tuple[float, float]:
    """(fills/s, Redis commands per fill) over a seeded mix of fills."""
    rng = random.Random(7)
    ledger = Ledger(connect(settings), namespace=settings.namespace, initial_cash=1e9)
    symbols = [f"S{i}/USDT" for i in range(5)]
    plan = [
        (
            rng.choice(symbols),
            rng.choice((Side.BUY, Side.SELL)),
            rng.uniform(0.1, 3.0),
            rng.uniform(90.0, 110.0),
        )
        for _ in range(count)
    ]
    counter = count_commands(ledger.client)
    started = time.perf_counter()
    for n, (symbol, side, quantity, price) in enumerate(plan):
        ledger.apply_fill(
            client_order_id=f"o{n}",
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            fee=quantity * price * 0.001,
            filled_at=START + n * timedelta(seconds=1),
        )
    elapsed = time.perf_counter() - started
    return count / elapsed, counter.commands / count


def cycle_cost(
    settings: Settings, symbols: int, cycles: int, *, trailing: bool = False
) -> tuple[float, float, float]:
    """(p50 ms per cycle, Redis commands per cycle, round trips per cycle) of on_bars."""
    ledger = Ledger(connect(settings), namespace=settings.namespace, initial_cash=1e9)
    config = BrokerConfig(trailing_atr=2.0) if trailing else BrokerConfig()
    broker = PaperBroker(ledger, CostModel(), config)
    names = [f"S{i}/USDT" for i in range(symbols)]
    for n, symbol in enumerate(names[: max(1, symbols // 10)]):  # a tenth hold a position
        ledger.apply_fill(
            client_order_id=f"open{n}",
            symbol=symbol,
            side=Side.BUY,
            quantity=1.0,
            price=100.0,
            fee=0.1,
            filled_at=START - STEP,
            stop_loss=50.0,
            take_profit=200.0,
        )
    counter = count_commands(ledger.client)
    durations: list[float] = []
    for cycle in range(cycles):
        at = START + cycle * STEP
        bar = Bar(open=100.0 + cycle, high=101.5 + cycle, low=99.5 + cycle, close=101.0 + cycle)
        updates = [BarUpdate(symbol, bar, at, atr=1.0) for symbol in names]
        started = time.perf_counter()
        broker.on_bars(updates)
        durations.append((time.perf_counter() - started) * 1000)
    return percentile(durations, 50), counter.commands / cycles, counter.round_trips / cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=3000)
    parser.add_argument("--symbols", default="50,500", help="universe sizes")
    parser.add_argument("--cycles", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.symbols.split(",")})

    load = load_average()
    with scratch_settings() as settings:
        rate, per_fill = fill_rate(settings, args.fills)
    figures = [
        Figure(
            "Ledger.apply_fill, one after another",
            rate,
            "fills/s",
            "printed (no slower than before)",
            True,
            anchor=f"{per_fill:.1f} Redis commands per fill; {load}",
        )
    ]
    for trailing in (False, True):
        costs = {}
        stops = "trailing stops" if trailing else "no trailing"
        for size in sizes:
            with scratch_settings() as settings:
                costs[size] = cycle_cost(settings, size, args.cycles, trailing=trailing)
            p50, commands, trips = costs[size]
            figures.append(
                Figure(
                    f"PaperBroker.on_bars, {size} symbols, {stops} (p50)",
                    p50,
                    "ms",
                    "printed",
                    True,
                    anchor=f"{commands:.1f} Redis commands, {trips:.1f} round trips per cycle",
                )
            )
        if len(sizes) > 1:
            small, large = costs[sizes[0]][1], costs[sizes[-1]][1]
            growth = large / max(small, 1.0)
            figures.append(
                Figure(
                    f"Redis commands per cycle, {sizes[-1]} / {sizes[0]} symbols, {stops}",
                    growth,
                    "x",
                    f"constant (<= {TARGET_GROWTH}x)",
                    growth <= TARGET_GROWTH,
                    anchor=f"{large:.1f} / {small:.1f} commands",
                )
            )
    return report(figures)


if __name__ == "__main__":
    sys.exit(main())
