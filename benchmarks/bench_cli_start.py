"""Start-up time of the read-only commands, and of a wrong argument's refusal, beside
``python -c pass`` and the bare import of the command line, measured in the same run
(issue 11: each command under 0.5 s).

The account is seeded first (an engine run with open positions, policy writes, events),
so ``positions`` really marks positions and ``events tail`` really reads streams. Each
command runs once to warm the bytecode cache (as any installed command has one; the
children run without ``PYTHONDONTWRITEBYTECODE``), then ``--runs`` times as a fresh
process (the console script); the median counts. Beside the wall time each line gives
the median CPU time (user + system) of the process, which a busy machine inflates far
less, and the run starts and ends with the load average.

    python benchmarks/bench_cli_start.py [--runs N] [--json]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, report, scratch_settings
from components.settings import Settings

TARGET_S = 0.5
IMPORT_CLI = "from deployments.cli import load_commands; load_commands()"
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


@dataclass(frozen=True)
class Timing:
    """Medians over fresh processes of one command, and its exit code."""

    wall_s: float
    cpu_s: float
    code: int


def timed(argv: list[str], env: dict[str, str], runs: int) -> Timing:
    """``argv`` run once to warm up, then ``runs`` times: median wall and CPU time."""
    subprocess.run(argv, env=env, capture_output=True, check=False)
    walls, cpus = [], []
    code = 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(
            after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
        )
        code = done.returncode
    return Timing(statistics.median(walls), statistics.median(cpus), code)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


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
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed command has its bytecode
        if settings.redis_url is not None:
            env["QT_REDIS_URL"] = settings.redis_url.get_secret_value()
        print(f"start: {load_average()}", file=sys.stderr)
        anchor = timed([sys.executable, "-c", "pass"], env, runs)
        imported = timed([sys.executable, "-c", IMPORT_CLI], env, runs)
        anchor_text = (
            f"python -c pass {anchor.wall_s * 1000:.0f} ms (CPU {anchor.cpu_s * 1000:.0f}); "
            f"import of the CLI {imported.wall_s * 1000:.0f} ms (CPU {imported.cpu_s * 1000:.0f})"
        )
        checks = [(f"start {name}", args, 0) for name, args in COMMANDS.items()]
        checks += [(f"refuse {name}", args, 2) for name, args in WRONG.items()]
        for name, args, expected in checks:
            timing = timed([cli, *args], env, runs)
            figures.append(
                Figure(
                    f"{name} (exit {timing.code}, CPU {timing.cpu_s * 1000:.0f} ms, "
                    f"{timing.wall_s / anchor.wall_s:.1f}x python -c pass)",
                    timing.wall_s * 1000,
                    "ms",
                    f"< {TARGET_S * 1000:.0f} ms",
                    timing.code == expected and timing.wall_s < TARGET_S,
                    anchor_text,
                )
            )
        print(f"end: {load_average()}", file=sys.stderr)
    return report(figures)


if __name__ == "__main__":
    sys.exit(main())
