"""Start-up time of the read-only commands, and of a wrong argument's refusal, beside
``python -c pass`` measured in the same run (issue 11: each under 0.5 s).

The account is seeded first (an engine run with open positions, policy writes, events),
so ``positions`` really marks positions and ``events tail`` really reads streams. Each
command runs ``--runs`` times as a fresh process (the console script); the median counts.

    python benchmarks/bench_cli_start.py [--runs N] [--json]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, report, scratch_settings
from components.settings import Settings

TARGET_S = 0.5
COMMANDS = {
    "policy show": ["policy", "show"],
    "positions": ["positions"],
    "ess status": ["ess", "status"],
    "events tail": ["events", "tail", "--count", "20"],
    "models list": ["models", "list"],
}
WRONG = {
    "policy show --nosuch (usage error)": ["policy", "show", "--nosuch"],
    "backtest --strategy nosuch": ["backtest", "--strategy", "nosuch"],
}


def seed(settings: Settings) -> None:
    """An account that has traded and holds positions, the way the engine leaves it."""
    from components.engine import build_engine
    from components.events import RedisEventBus
    from components.market import ManualClock, open_market
    from components.policy import PolicyStore

    clock = ManualClock(datetime(2026, 3, 2, tzinfo=UTC))
    market = open_market(settings.market, clock=clock)
    PolicyStore.connect(settings).patch(
        {"active_universe": market.symbols()[:8], "global_min_confidence": 0.5},
        by="bench",
        reason="seed",
    )
    engine = build_engine(settings, market, bus=RedisEventBus.connect(settings))
    for cycle in range(20):
        engine.run_cycle(cycle)
        clock.advance(timedelta(minutes=5))


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    """Median wall time of ``argv`` over ``runs`` fresh processes, and its exit code."""
    times = []
    code = 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        code = done.returncode
    return statistics.median(times), code


def main() -> int:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 7
    cli = str(Path(sys.executable).parent / "quantum-trader")
    figures = []
    with scratch_settings() as settings:
        seed(settings)
        env = {
            **os.environ,
            "QT_NAMESPACE": settings.namespace,
            "QT_HOME": str(settings.home),
        }
        if settings.redis_url is not None:
            env["QT_REDIS_URL"] = settings.redis_url.get_secret_value()
        anchor, _ = timed([sys.executable, "-c", "pass"], env, runs)
        anchor_text = f"python -c pass {anchor * 1000:.0f} ms"
        for name, args in COMMANDS.items():
            seconds, code = timed([cli, *args], env, runs)
            figures.append(
                Figure(
                    f"start {name} (exit {code}, {seconds / anchor:.1f}x python -c pass)",
                    seconds * 1000,
                    "ms",
                    f"< {TARGET_S * 1000:.0f} ms",
                    code == 0 and seconds < TARGET_S,
                    anchor_text,
                )
            )
        for name, args in WRONG.items():
            seconds, code = timed([cli, *args], env, runs)
            figures.append(
                Figure(
                    f"refuse {name} (exit {code}, {seconds / anchor:.1f}x python -c pass)",
                    seconds * 1000,
                    "ms",
                    f"< {TARGET_S * 1000:.0f} ms",
                    code == 2 and seconds < TARGET_S,
                    anchor_text,
                )
            )
    return report(figures)


if __name__ == "__main__":
    sys.exit(main())
