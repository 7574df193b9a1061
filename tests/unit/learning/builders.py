"""Bars with a known amount of predictability, and small configs that train fast."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from components.execution.costs import CostModel
from components.learning import FeatureConfig, LabelConfig, LearningConfig, ModelConfig
from components.market.base import BAR_COLUMNS
from components.regime import ClassifierConfig

START = pd.Timestamp("2025-01-01", tz="UTC")


def ar_bars(
    n: int,
    *,
    phi: float | Sequence[float] | np.ndarray = 0.0,
    seed: int = 0,
    volatility: float = 0.01,
    start: pd.Timestamp = START,
) -> pd.DataFrame:
    """Hourly bars whose log returns follow ``r[t] = phi[t] * r[t-1] + noise``.

    ``phi = 0`` is a random walk (nothing to predict); ``phi = 0.3`` makes the next bar's
    direction predictable from the last return (AUC about 0.6). Each bar opens at the
    previous close, so a position taken at bar ``t`` earns ``r[t + 1]``.
    """
    rng = np.random.default_rng(seed)
    coefficient = np.broadcast_to(np.asarray(phi, dtype=np.float64), (n,))
    noise = rng.normal(0.0, volatility, n)
    r = np.empty(n)
    r[0] = noise[0]
    for t in range(1, n):
        r[t] = coefficient[t] * r[t - 1] + noise[t]
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = rng.uniform(0, volatility / 2, (2, n))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(5.0, 0.5, n)
    index = pd.date_range(start, periods=n, freq="1h", name="timestamp")
    return pd.DataFrame(
        np.column_stack([open_, high, low, close, volume]), index=index, columns=list(BAR_COLUMNS)
    )


def market(
    n: int,
    *,
    phi: float | Sequence[float] | np.ndarray = 0.0,
    seed: int = 0,
    symbols: Sequence[str] = ("AAA/USDT", "BBB/USDT"),
    start: pd.Timestamp = START,
) -> dict[str, pd.DataFrame]:
    """:func:`ar_bars` for a few symbols, each with its own noise."""
    return {s: ar_bars(n, phi=phi, seed=seed * 100 + k, start=start) for k, s in enumerate(symbols)}


FAST_FEATURES = FeatureConfig(
    return_horizons=(1, 2, 4, 12),
    volatility_window=24,
    atr_slow=48,
    volume_window=24,
    regime=ClassifierConfig(lookback=24),
)
NEXT_BAR = LabelConfig(horizon=1, dead_zone=0.0)
FAST_MODEL = ModelConfig(max_iter=40, min_samples_leaf=40, learning_rate=0.1)
LOW_COSTS = CostModel(fee_bps=1.0, slippage_bps=0.0, spread_bps=0.0)


def fast_learning_config(**overrides: object) -> LearningConfig:
    """A LearningConfig that trains in well under a second on a few thousand bars."""
    values: dict[str, object] = {
        "features": FAST_FEATURES,
        "label": NEXT_BAR,
        "model": FAST_MODEL,
        "train_bars": 1_600,
        "eval_bars": 600,
        "embargo": 2,
        "threshold": 0.53,
        "costs": LOW_COSTS,
    }
    values.update(overrides)
    return LearningConfig.model_validate(values)
