"""Small builders of valid bars for the market tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.market.base import BAR_COLUMNS, CALENDAR_TIMEFRAMES, TIMEFRAMES


def make_bars(
    n: int = 48,
    *,
    start: str = "2024-01-01",
    timeframe: str = "1h",
    seed: int = 0,
    price: float = 100.0,
) -> pd.DataFrame:
    """``n`` valid bars of a random walk from ``start`` (UTC), in the contract layout."""
    rng = np.random.default_rng(seed)
    closes = price * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.concatenate(([price], closes))[:n]
    highs = np.maximum(opens, closes) * (1 + rng.uniform(0, 0.005, n))
    lows = np.minimum(opens, closes) * (1 - rng.uniform(0, 0.005, n))
    volumes = rng.uniform(10, 1000, n)
    freq = "MS" if timeframe in CALENDAR_TIMEFRAMES else TIMEFRAMES[timeframe]
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp", unit="us")
    values = np.column_stack([opens, highs, lows, closes, volumes])
    return pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS))


def forex_hours(weeks: int = 4, *, start: str = "2024-01-01", seed: int = 0) -> pd.DataFrame:
    """Hourly bars of a forex-style market: Monday 00:00 to Friday 21:00 UTC each week,
    nothing at the weekends (a 50-bar gap every Friday night)."""
    bars = make_bars(24 * 7 * weeks, start=start, seed=seed, price=1.1)
    index = bars.index
    trading = (index.day_of_week < 4) | ((index.day_of_week == 4) & (index.hour < 22))
    return bars[trading]
