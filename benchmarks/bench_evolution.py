"""Strategy generation benchmark: population 64 x 20 generations over 10 symbols x 8,760
hourly bars in < 120 s on this 2-core machine.

Builds a year of hourly bars for 10 symbols from the seeded synthetic market, then runs the
Strategy Generator with its default search (walk-forward fitness over 4 folds, every
candidate behind the lookahead and recursion gates), evaluating each generation on a
``ProcessPoolExecutor`` of 2 workers: the stand-in for the flow's process-pool task
runner. The time covers the whole run, starting the pool included::

    python benchmarks/bench_evolution.py            # lines for people
    python benchmarks/bench_evolution.py --json     # one JSON object for scripts
    python benchmarks/bench_evolution.py --serial   # also time the builtin map, for scale
    python benchmarks/bench_evolution.py --dask 1,2 # also on 1 and 2 Dask workers (a local
                                                    # cluster, 1 thread each), side by side

Distinct genomes are scored once (the generator caches fitness by genome id), so
"evaluations" counts genomes actually scored, fewer than population x generations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

from components.evolution import (
    BarArrays,
    EvolutionResult,
    GenerationResult,
    GeneticConfig,
    StrategyGenerator,
)
from components.market.synthetic import SyntheticMarket, default_symbols

TARGET_S = 120.0
END = datetime(2026, 1, 1, tzinfo=UTC)


def build_data(symbols: int, bars: int, *, seed: int) -> BarArrays:
    """``bars`` hourly bars of ``symbols`` synthetic symbols, as the generator reads them."""
    market = SyntheticMarket(seed=seed)
    frames = market.bars_many(default_symbols(symbols), "1h", limit=bars, end=END)
    return BarArrays.from_frames(frames)


def timed_run(
    config: GeneticConfig, data: BarArrays, *, workers: int, show: bool
) -> tuple[float, EvolutionResult]:
    """Seconds for one whole run (the pool's start included) and its result."""

    def progress(g: GenerationResult) -> None:
        if show:
            print(
                f"  generation {g.generation + 1:>2}/{g.generations}: best "
                f"{g.best_fitness:6.3f}, {g.evaluated:>2} scored, {g.reused:>2} reused",
                file=sys.stderr,
            )

    start = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            result = StrategyGenerator(config).run(data, progress=progress, map_fn=pool.map)
    else:
        result = StrategyGenerator(config).run(data, progress=progress)
    return time.perf_counter() - start, result


def timed_dask_run(
    config: GeneticConfig, data: BarArrays, *, workers: int
) -> tuple[float, EvolutionResult]:
    """Seconds for one whole run on a local Dask cluster of ``workers`` single-threaded
    processes (the cluster's start included, as the pool's is above) and its result: the
    fan-out prefect-dask's DaskTaskRunner does for the strategy-generation flow."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):

        def dask_map(fn: Any, batches: Any) -> list[Any]:
            return list(client.gather(client.map(fn, list(batches), pure=False)))

        result = StrategyGenerator(config).run(data, map_fn=dask_map)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--bars", type=int, default=8_760)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--serial", action="store_true", help="also time the builtin map")
    parser.add_argument("--progress", action="store_true", help="a line per generation")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--dask",
        default="",
        metavar="N,M",
        help="also run on local Dask clusters of these worker counts (needs the dask extra)",
    )
    args = parser.parse_args(argv)
    dask_workers = [int(n) for n in args.dask.split(",") if n.strip()]

    start = time.perf_counter()
    data = build_data(args.symbols, args.bars, seed=args.seed)
    data_s = time.perf_counter() - start
    config = GeneticConfig(population=args.population, generations=args.generations, seed=args.seed)
    elapsed, result = timed_run(config, data, workers=args.workers, show=args.progress)
    serial_s = None
    if args.serial:
        serial_s, serial = timed_run(config, data, workers=1, show=args.progress)
        if serial != result:
            print("the serial run differs from the parallel one", file=sys.stderr)
            return 1

    dask_s: dict[int, float] = {}
    for workers in dask_workers:
        dask_s[workers], on_dask = timed_dask_run(config, data, workers=workers)
        if on_dask != result:
            print(f"the run on {workers} Dask workers differs from the pool's", file=sys.stderr)
            return 1

    evaluations = len(result.evaluations)
    rejected = sum(1 for e in result.evaluations if not e.passed)
    best = result.best(1)
    ok = elapsed < TARGET_S
    figures = {
        "benchmark": "strategy_generation",
        "population": args.population,
        "generations": args.generations,
        "symbols": args.symbols,
        "bars": args.bars,
        "workers": args.workers,
        "seconds": round(elapsed, 2),
        "target_s": TARGET_S,
        "evaluations": evaluations,
        "evaluations_per_s": round(evaluations / elapsed, 1),
        "genome_slots": args.population * args.generations,
        "rejected_by_gates": rejected,
        "serial_seconds": None if serial_s is None else round(serial_s, 2),
        "dask_seconds": {str(n): round(t, 2) for n, t in dask_s.items()},
        "data_seconds": round(data_s, 2),
        "best_candidate": best[0].candidate_name if best else None,
        "best_fitness": round(best[0].fitness, 4) if best else None,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"strategy generation: population {args.population} x {args.generations} "
            f"generations, {args.symbols} symbols x {args.bars:,} bars on {args.workers} "
            f"processes in {elapsed:.1f} s (target < {TARGET_S:.0f} s) -> "
            f"{'OK' if ok else 'SLOW'}"
        )
        print(
            f"  {evaluations} distinct genomes scored ({evaluations / elapsed:.1f} "
            f"evaluations/s; {args.population * args.generations} slots, the rest reused), "
            f"{rejected} rejected by the lookahead/recursion gates"
        )
        if serial_s is not None:
            print(f"  builtin map (one process): {serial_s:.1f} s")
        for workers, seconds in dask_s.items():
            print(
                f"  Dask, {workers} worker{'s' if workers > 1 else ''}: {seconds:.1f} s "
                f"({seconds / elapsed:.2f}x the {args.workers}-process pool; the same result)"
            )
        if best:
            summary = best[0].summary()
            print(
                f"  best: {best[0].candidate_name} fitness {best[0].fitness:.3f} "
                f"(out of sample: Sharpe {summary.sharpe:.2f}, return "
                f"{summary.total_return:.1%} per fold, max drawdown {summary.max_drawdown:.1%}; "
                f"in sample {best[0].in_sample_score:.3f})"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
