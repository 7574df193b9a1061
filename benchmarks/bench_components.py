"""Speed of the building blocks every cycle leans on (timing goals that used to sit in
unit tests, where a loaded machine made them fail; tests check behaviour only).

1. The synthetic market: 500 symbols x 1,000 hourly bars; 60 days of minute bars.
2. Bar validation: 500 frames of 1,000 bars.
3. Indicators: EMA and RMA over 500 x 1,000 closes.
4. Strategies: each built-in's signals over 100,000 bars.

Each figure is the best of a few runs, beside an anchor measured in the same run (numpy
summing the same data once)::

    python benchmarks/bench_components.py [--json]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import Figure, report
from components import indicators
from components.market import SyntheticMarket, default_symbols, validate_bars
from components.strategies import STRATEGIES

REPEATS = 3


def best_ms(work: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def anchor(array: np.ndarray) -> str:
    return f"numpy sum of the same data {best_ms(lambda: float(np.sum(array))):.2f} ms"


def main() -> int:
    figures: list[Figure] = []
    wide = SyntheticMarket(seed=4242, symbols=default_symbols(500))
    first = time.perf_counter()
    bars = wide.bars_many(wide.symbols(), "1h", limit=1_000)
    made = (time.perf_counter() - first) * 1000  # first call: nothing cached yet
    closes = np.stack([frame["close"].to_numpy() for frame in bars.values()])
    figures.append(
        Figure(
            "synthetic 500 symbols x 1,000 1h bars",
            made,
            "ms",
            "< 1,000 ms",
            made < 1000,
            anchor(closes),
        )
    )
    minutes_ms = best_ms(
        lambda: SyntheticMarket(seed=7).bars("BTC/USDT", "1m", limit=60 * 24 * 60), 1
    )
    figures.append(
        Figure("synthetic 60 days of 1m bars", minutes_ms, "ms", "< 1,000 ms", minutes_ms < 1000)
    )
    frames = list(bars.values())
    validate_ms = best_ms(
        lambda: [validate_bars(f, symbol="X", source="bench", timeframe="1h") for f in frames]
    )
    figures.append(
        Figure(
            "validate 500 x 1,000 bars",
            validate_ms,
            "ms",
            "< 50 ms",
            validate_ms < 50,
            anchor(closes),
        )
    )
    indicators.ema(closes, 20)
    ema_ms = best_ms(lambda: (indicators.ema(closes, 20), indicators.rma(closes, 14)))
    figures.append(
        Figure("EMA + RMA of 500 x 1,000", ema_ms, "ms", "< 100 ms", ema_ms < 100, anchor(closes))
    )
    walk = SyntheticMarket(seed=7).bars("BTC/USDT", "5m", limit=100_000)
    columns = [walk[c].to_numpy() for c in walk.columns]
    for name in sorted(STRATEGIES):
        strategy = STRATEGIES[name]()
        strategy.signal_arrays(*columns)
        ms = best_ms(lambda s=strategy: s.signal_arrays(*columns))  # type: ignore[misc]
        figures.append(Figure(f"{name} signals, 100k bars", ms, "ms", "< 100 ms", ms < 100))
    return report(figures)


if __name__ == "__main__":
    sys.exit(main())
