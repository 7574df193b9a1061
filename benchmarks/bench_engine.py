"""Trading engine: one cycle for 50 symbols (market data -> orders), and memory over a
long session.

1. 100 cycles of the engine alone (no Prefect), 50 symbols in the universe, four
   strategies each: p50 / p95 cycle time. Target: < 250 ms.
2. The real trading-engine flow for 1,000 cycles on a fast simulated clock: Prefect's own
   overhead per cycle (flow time per cycle minus the engine's own time), printed apart,
   and the resident memory after 1,000 cycles against after 100. Target: within 50 MB.

    python benchmarks/bench_engine.py [--json] [--cycles N]
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from benchmarks.common import Figure, percentile, report, scratch_settings
from components.engine import TradingEngine, read_heartbeat
from components.market import ManualClock, SimulatedClock, SyntheticMarket, default_symbols
from components.policy import PolicyStore
from components.redis import connect
from components.settings import Settings

SYMBOLS = 50
START = datetime(2026, 3, 2, tzinfo=UTC)
LONG_RUN = int(sys.argv[sys.argv.index("--cycles") + 1]) if "--cycles" in sys.argv else 1000


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_up(settings: Settings, symbols: list[str]) -> None:
    PolicyStore.connect(settings).patch(
        {"active_universe": symbols, "global_min_confidence": 0.5, "max_positions": 50},
        by="bench",
        reason="trade all 50 symbols",
    )


def engine_alone(settings: Settings) -> tuple[float, float]:
    clock = ManualClock(START)
    market = SyntheticMarket(symbols=default_symbols(SYMBOLS), clock=clock)
    open_up(settings, market.symbols())
    engine = TradingEngine.from_settings(settings, market)
    durations = []
    for cycle in range(105):
        started = time.perf_counter()
        engine.run_cycle(cycle)
        if cycle >= 5:  # warm caches first
            durations.append((time.perf_counter() - started) * 1000)
        clock.advance(timedelta(minutes=5))
    return percentile(durations, 50), percentile(durations, 95)


def flow_session(settings: Settings) -> tuple[float, float, float, float]:
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
        symbols=default_symbols(SYMBOLS), clock=SimulatedClock(START, speed=1500)
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
                if seen in (100, LONG_RUN - 1):
                    samples[seen] = rss_mb()
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    trading_engine(session_minutes=600, interval_seconds=0, speed=1.0, max_cycles=LONG_RUN)
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    per_cycle = elapsed / LONG_RUN * 1000
    overhead = per_cycle - sum(engine_ms) / max(1, len(engine_ms))
    return (
        per_cycle,
        overhead,
        samples.get(100, float("nan")),
        samples.get(LONG_RUN - 1, float("nan")),
    )


def main() -> int:
    with scratch_settings() as settings:
        p50, p95 = engine_alone(settings)
    with scratch_settings() as settings:
        per_cycle, overhead, rss_100, rss_end = flow_session(settings)
    growth = rss_end - rss_100
    return report(
        [
            Figure(
                f"engine cycle, {SYMBOLS} symbols, data -> orders (p50)",
                p50,
                "ms",
                "< 250 ms",
                p50 < 250,
                anchor=f"p95 {p95:.0f} ms",
            ),
            Figure(
                "Prefect task overhead per cycle (apart)",
                overhead,
                "ms",
                "printed apart",
                True,
                anchor=f"flow time per cycle {per_cycle:.0f} ms",
            ),
            Figure(
                f"engine RSS growth, cycle 100 -> {LONG_RUN}",
                growth,
                "MB",
                "<= 50 MB",
                growth <= 50,
                anchor=f"{rss_100:.0f} MB -> {rss_end:.0f} MB",
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
