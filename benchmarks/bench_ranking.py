"""Opportunity ranking benchmark: 2,000 symbols x 1,000 bars scored in < 200 ms.

Builds seeded random-walk OHLCV bars and tickers (no market source involved), as one
bar block (what ``bars_block`` gives) and as one DataFrame per symbol (what
``bars_many`` gives), warms the ranker up once, then reports the best of several timed
runs of each, side by side, with the CPU time beside the wall clock (a machine busy with
other work inflates only the latter)::

    python benchmarks/bench_ranking.py [--symbols 2000]   # one line for people
    python benchmarks/bench_ranking.py --json             # one JSON object for scripts
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from components.market.base import Ticker
from components.market.block import BarBlock, BlockRead
from components.ranking import OpportunityRanker, RankerConfig

TARGET_MS = 200.0


def build_market(
    symbols: int, bars: int, *, seed: int = 7
) -> tuple[dict[str, pd.DataFrame], BlockRead, dict[str, Ticker]]:
    """Random-walk hourly OHLCV bars (one DataFrame per symbol, and the same as one block)
    and matching tickers."""
    rng = np.random.default_rng(seed)
    end = datetime(2024, 6, 1, tzinfo=UTC)
    index = pd.date_range(end=end, periods=bars, freq="h", tz="UTC", name="timestamp")
    drift = rng.normal(0.0, 0.0005, size=(symbols, 1))
    sigma = rng.uniform(0.002, 0.02, size=(symbols, 1))
    log_close = np.log(rng.uniform(0.1, 50_000, size=(symbols, 1))) + np.cumsum(
        drift + sigma * rng.standard_normal((symbols, bars)), axis=1
    )
    close = np.exp(log_close)
    open_ = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    wick = np.abs(rng.normal(0.0, 0.5, size=(2, symbols, bars))) * sigma
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(10, 1, size=(symbols, bars))
    frames: dict[str, pd.DataFrame] = {}
    names = tuple(f"S{i:04d}/USDT" for i in range(symbols))
    times = np.asarray(index.as_unit("ns").asi8)
    values = np.stack([open_, high, low, close, volume])
    block = BlockRead([BarBlock(names, times, values, "1h")], {})
    tickers: dict[str, Ticker] = {}
    quote_volume = 10 ** rng.uniform(8, 11, size=symbols)
    spread = rng.uniform(0.0, 0.008, size=symbols)
    for i, name in enumerate(names):
        frames[name] = pd.DataFrame(
            {
                "open": open_[i],
                "high": high[i],
                "low": low[i],
                "close": close[i],
                "volume": volume[i],
            },
            index=index,
        )
        last = float(close[i, -1])
        tickers[name] = Ticker(
            symbol=name,
            at=end,
            last=last,
            bid=last * (1 - spread[i] / 2),
            ask=last * (1 + spread[i] / 2),
            quote_volume_24h=float(quote_volume[i]),
        )
    return frames, block, tickers


def time_ranker(
    config: RankerConfig,
    frames: dict[str, pd.DataFrame] | BlockRead,
    tickers: dict[str, Ticker],
    repeats: int,
) -> tuple[float, float, float, int]:
    """Best and median milliseconds of ``repeats`` timed runs after one warm-up, the best
    CPU milliseconds (which other work on the machine does not inflate), and how many
    symbols were scored."""
    ranker = OpportunityRanker(config)
    ranking = ranker.score(frames, tickers)  # warm-up
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        ranking = ranker.score(frames, tickers)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(times) * 1e3, float(np.median(times)) * 1e3, min(cpu) * 1e3, len(ranking.kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--bars", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    frames, block, tickers = build_market(args.symbols, args.bars, seed=args.seed)
    # The default minimum volume and spread would filter about half of these symbols
    # before their bars are read; let every one through to time the full vectorised pass.
    config = RankerConfig(min_quote_volume=0.0, max_spread_bps=10_000)
    best_ms, median_ms, cpu_ms, scored = time_ranker(config, block, tickers, args.repeats)
    # The same from one DataFrame per symbol, and scoring every bar rather than the
    # default window of the last bars.
    frames_ms, _, _, _ = time_ranker(config, frames, tickers, args.repeats)
    full = config.model_copy(update={"window": args.bars})
    full_ms, _, full_cpu_ms, _ = time_ranker(full, block, tickers, args.repeats)
    ok = best_ms < TARGET_MS
    result = {
        "benchmark": "opportunity_ranking",
        "symbols": args.symbols,
        "bars": args.bars,
        "scored": scored,
        "window": config.window,
        "best_ms": round(best_ms, 2),
        "median_ms": round(median_ms, 2),
        "cpu_best_ms": round(cpu_ms, 2),
        "frames_best_ms": round(frames_ms, 2),
        "full_window_best_ms": round(full_ms, 2),
        "full_window_cpu_best_ms": round(full_cpu_ms, 2),
        "repeats": args.repeats,
        "target_ms": TARGET_MS,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"opportunity ranking: {args.symbols} symbols x {args.bars} bars in "
            f"{best_ms:.1f} ms, CPU {cpu_ms:.1f} ms (target < {TARGET_MS:.0f} ms) -> "
            f"{'OK' if ok else 'SLOW'}  [scores the last {config.window} bars; all "
            f"{args.bars}: {full_ms:.1f} ms, CPU {full_cpu_ms:.1f} ms; from one DataFrame per "
            f"symbol: {frames_ms:.1f} ms]"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
