"""Bars for the strategy tests: random walks and hand-shaped close paths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from components.market.base import BAR_COLUMNS

START = pd.Timestamp("2024-01-01", tz="UTC")


def bars_from_closes(
    closes: Sequence[float] | np.ndarray, *, wick: float = 0.001, seed: int = 0
) -> pd.DataFrame:
    """Hourly bars whose closes are ``closes``: each bar opens at the previous close and
    its high and low stick out by up to ``wick`` (relative) beyond the body."""
    close = np.asarray(closes, dtype=np.float64)
    n = len(close)
    rng = np.random.default_rng(seed)
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, wick, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, wick, n))
    volume = rng.uniform(10, 1000, n)
    index = pd.date_range(START, periods=n, freq="1h", name="timestamp")
    return pd.DataFrame(
        np.column_stack([open_, high, low, close, volume]), index=index, columns=list(BAR_COLUMNS)
    )


def random_walk(n: int, *, seed: int = 0, volatility: float = 0.01) -> pd.DataFrame:
    """``n`` bars of a geometric random walk from 100."""
    rng = np.random.default_rng(seed)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0, volatility, n)))
    return bars_from_closes(closes, wick=volatility / 2, seed=seed + 1)


def noisy_flat(n: int, *, seed: int = 0, level: float = 100.0, noise: float = 0.002) -> np.ndarray:
    """Closes wandering a little around ``level`` (no trend)."""
    rng = np.random.default_rng(seed)
    return level * (1 + rng.normal(0, noise, n))
