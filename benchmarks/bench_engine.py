"""Trading engine: how a cycle (market data -> orders) grows with the universe, and memory
over a long session.

1. For each universe size (``--symbols``, default 50,200,500,1000): the engine alone (no
   Prefect), four strategies, 5-minute bars on a manual clock, ``--cycles`` cycles after
   five of warm-up, the sizes taking turns cycle by cycle: the cycle's p50 and p95 (wall
   clock; the p50 of the process's CPU time beside them, which other work on the machine
   does not inflate), and the Redis commands and round trips the engine's own connection
   made per cycle.
   Targets: the 50-symbol cycle < 250 ms and the 500-symbol one < 250 ms (the design's
   own bar is 1 s), the 500-symbol cycle at most 2x the 50-symbol cycle measured in the
   same run, and Redis commands per cycle that do not grow with the universe.
2. The real trading-engine flow for ``--long-cycles`` cycles (default 1,000) at
   ``--rss-symbols`` symbols (default 500) on a fast simulated clock: Prefect's own
   overhead per cycle (flow time per cycle minus the engine's own time), printed apart, and
   the resident memory at the last cycle against cycle 100. Target: growth < 50 MB.
   ``--long-cycles 0`` skips it.

    python benchmarks/bench_engine.py [--symbols 50,200,500,1000] [--cycles 60]
        [--long-cycles 1000] [--rss-symbols 500] [--json]

The machine may be busy with other work: the ratios (measured side by side in one run,
the sizes interleaved) mean more than the absolute times, and the load average is
printed with them. The engines' own log lines (ESS transitions and the like) are kept to
errors so the table stays readable.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a busy machine

from benchmarks.common import (
    Figure,
    count_commands,
    load_average,
    percentile,
    report,
    rss_mb,
    scratch_settings,
)
from components.engine import build_engine, read_heartbeat
from components.market import ManualClock, SimulatedClock, SyntheticMarket, default_symbols
from components.policy import PolicyStore
from components.redis import connect
from components.settings import Settings

START = datetime(2026, 3, 2, tzinfo=UTC)
WARM_UP = 5
TARGET_MS = 250.0
TARGET_RATIO = 2.0
TARGET_RSS_MB = 50.0


@dataclass(frozen=True)
class SizeResult:
    symbols: int
    p50: float
    p95: float
    cpu_p50: float
    commands: float
    round_trips: float


def open_up(settings: Settings, symbols: list[str]) -> None:
    PolicyStore.connect(settings).patch(
        {
            "active_universe": symbols,
            "global_min_confidence": 0.5,
            "max_positions": min(50, len(symbols)),
        },
        by="bench",
        reason="trade the whole universe",
    )


class EngineRun:
    """One universe size's engine alone, on its own market and clock, cycle by cycle."""

    def __init__(self, settings: Settings, symbols: int) -> None:
        self.symbols = symbols
        self.clock = ManualClock(START)
        market = SyntheticMarket(symbols=default_symbols(symbols), clock=self.clock)
        open_up(settings, market.symbols())
        self.engine = build_engine(settings, market)
        self.counter = count_commands(self.engine.ledger.client)
        self.durations: list[float] = []
        self.cpu: list[float] = []
        self.cycle = 0

    def step(self) -> None:
        """One cycle, timed (and its Redis commands counted) after the warm-up."""
        if self.cycle == WARM_UP:  # warm caches first
            self.counter.commands = self.counter.round_trips = 0
        started, cpu = time.perf_counter(), time.process_time()
        self.engine.run_cycle(self.cycle)
        if self.cycle >= WARM_UP:
            self.durations.append((time.perf_counter() - started) * 1000)
            self.cpu.append((time.process_time() - cpu) * 1000)
        self.clock.advance(timedelta(minutes=5))
        self.cycle += 1

    def result(self) -> SizeResult:
        timed = max(1, len(self.durations))
        return SizeResult(
            symbols=self.symbols,
            p50=percentile(self.durations, 50),
            p95=percentile(self.durations, 95),
            cpu_p50=percentile(self.cpu, 50),
            commands=self.counter.commands / timed,
            round_trips=self.counter.round_trips / timed,
        )


def engines_alone(sizes: list[int], cycles: int) -> list[SizeResult]:
    """The engine alone at each size, the sizes taking turns cycle by cycle (so a machine
    busy with other work slows them alike, and their ratios stay fair)."""
    with ExitStack() as stack:
        runs = [EngineRun(stack.enter_context(scratch_settings()), size) for size in sizes]
        for _ in range(WARM_UP + cycles):
            for run in runs:
                run.step()
        return [run.result() for run in runs]


def flow_session(
    settings: Settings, symbols: int, cycles: int
) -> tuple[float, float, float, float]:
    """(flow time per cycle, Prefect overhead per cycle, RSS at cycle 100, RSS at the end)."""
    from flows.trading_engine import trading_engine
    from tasks.runtime import use_market

    os.environ.update(
        {
            "QT_REDIS_URL": settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
            "QT_NAMESPACE": settings.namespace,
            "QT_HOME": str(settings.home),
        }
    )
    market = SyntheticMarket(
        symbols=default_symbols(symbols), clock=SimulatedClock(START, speed=1500)
    )
    use_market(settings, market, market.clock)
    open_up(settings, market.symbols())
    client = connect(settings)
    samples: dict[int, float] = {}
    engine_ms: list[float] = []
    done = threading.Event()

    def watch() -> None:
        seen = -1
        while not done.is_set():
            beat = read_heartbeat(client, settings.namespace)
            if beat is not None and beat["cycle"] != seen:
                seen = beat["cycle"]
                engine_ms.append(beat["report"]["duration_ms"])
                if seen in (100, cycles - 1):
                    samples[seen] = rss_mb()
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    trading_engine(session_minutes=600, interval_seconds=0, speed=1.0, max_cycles=cycles)
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    per_cycle = elapsed / cycles * 1000
    overhead = per_cycle - sum(engine_ms) / max(1, len(engine_ms))
    return (
        per_cycle,
        overhead,
        samples.get(100, float("nan")),
        samples.get(cycles - 1, float("nan")),
    )


def table(results: list[SizeResult]) -> str:
    lines = [
        f"{'symbols':>8} {'p50 ms':>9} {'p95 ms':>9} {'CPU p50 ms':>11} {'commands/cycle':>15} "
        f"{'round trips':>12}"
    ]
    for r in results:
        lines.append(
            f"{r.symbols:>8} {r.p50:>9.1f} {r.p95:>9.1f} {r.cpu_p50:>11.1f} {r.commands:>15.1f} "
            f"{r.round_trips:>12.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", default="50,200,500,1000", help="universe sizes")
    parser.add_argument("--cycles", type=int, default=60, help="timed cycles per size")
    parser.add_argument("--long-cycles", type=int, default=1000, help="flow cycles (0: skip)")
    parser.add_argument("--rss-symbols", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    logging.getLogger("components").setLevel(logging.ERROR)
    sizes = sorted({int(s) for s in args.symbols.split(",")})

    load_before = load_average()
    results = engines_alone(sizes, args.cycles)
    by_size = {r.symbols: r for r in results}
    if not args.json:
        print(f"engine alone, {args.cycles} cycles per size ({load_before}):")
        print(table(results))

    figures = [
        Figure(
            f"engine cycle, {r.symbols} symbols, data -> orders (p50)",
            r.p50,
            "ms",
            f"< {TARGET_MS:.0f} ms" if r.symbols <= 500 else "printed",
            r.p50 < TARGET_MS or r.symbols > 500,
            anchor=f"p95 {r.p95:.0f} ms; {r.commands:.0f} Redis commands, "
            f"{r.round_trips:.0f} round trips per cycle",
        )
        for r in results
    ]
    if 50 in by_size and 500 in by_size:
        ratio = by_size[500].p50 / by_size[50].p50
        figures.append(
            Figure(
                "500-symbol cycle / 50-symbol cycle (p50, same run)",
                ratio,
                "x",
                f"<= {TARGET_RATIO:.0f}x",
                ratio <= TARGET_RATIO,
                anchor=f"{by_size[500].p50:.0f} ms / {by_size[50].p50:.0f} ms; the engine's "
                f"own CPU time {by_size[500].cpu_p50:.0f} ms / {by_size[50].cpu_p50:.0f} ms",
            )
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large.commands / max(small.commands, 1)
        figures.append(
            Figure(
                f"Redis commands per cycle, {large.symbols} / {small.symbols} symbols",
                growth,
                "x",
                "constant (<= 1.2x)",
                growth <= 1.2,
                anchor=f"{large.commands:.0f} / {small.commands:.0f} commands",
            )
        )

    if args.long_cycles > 0:
        with scratch_settings() as settings:
            per_cycle, overhead, rss_100, rss_end = flow_session(
                settings, args.rss_symbols, args.long_cycles
            )
        growth_mb = rss_end - rss_100
        figures += [
            Figure(
                f"Prefect task overhead per cycle ({args.rss_symbols} symbols, apart)",
                overhead,
                "ms",
                "printed apart",
                True,
                anchor=f"flow time per cycle {per_cycle:.0f} ms",
            ),
            Figure(
                f"engine RSS growth, {args.rss_symbols} symbols, cycle 100 -> {args.long_cycles}",
                growth_mb,
                "MB",
                f"< {TARGET_RSS_MB:.0f} MB",
                growth_mb < TARGET_RSS_MB,
                anchor=f"{rss_100:.0f} MB -> {rss_end:.0f} MB",
            ),
        ]
    if not args.json:
        print(f"(load after: {load_average()})")
    return report(figures)


if __name__ == "__main__":
    sys.exit(main())
