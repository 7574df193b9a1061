"""Features, labels and time splits for the prediction models of the Continuous Learning
Manager.

Features (per bar, computed by :func:`feature_arrays` from OHLCV arrays, every one
scale-free, each at bar ``t`` from bars ``<= t`` only)::

    ret_<h>     log return over the last h bars, one per FeatureConfig.return_horizons
    volatility  realised volatility (std of log returns) over volatility_window bars
    rsi         Wilder's RSI, scaled to [-0.5, 0.5] (rsi / 100 - 0.5)
    adx         ADX in [0, 1] (adx / 100): trend strength, direction-free
    atr_ratio   ATR(atr_fast) / ATR(atr_slow): > 1 while the range expands
    volume_z    z-score of log(1 + volume) over volume_window bars
    trend       the regime classifier's efficiency ratio, signed by the window's direction
    swing       the regime classifier's mean short-window efficiency ratio
    regime_<S>  one-hot of the market state S (components.regime) over a rolling window

The regime columns apply the classifier's own rules (:mod:`components.regime.classifier`)
to the trailing ``regime.lookback + 1`` bars at every bar, vectorised: at the last bar they
agree with ``RegimeClassifier.classify_arrays`` on the same bars.

Label (:func:`make_labels`): the sign of the forward return over ``horizon`` bars,
``close[t + horizon] / close[t] - 1``, as 1.0 (up) or 0.0 (down). A forward return with
``|r| < dead_zone`` is no decision (NaN): such bars are left out of training and of the
prediction scores (they still trade in the signal evaluation). The label at bar ``t`` uses
the bars ``t + 1 .. t + horizon``; that is what a label is, and why splits are purged.

Splits (:func:`time_splits`): walk-forward by time. A training sample whose label reaches
into the test window is *purged* (``purge >= horizon`` removes them all), and an
*embargo* drops a few more samples before the test window, against serial correlation
(adjacent bars share most of their feature windows)::

    train ........ | purge | embargo | test ......
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.config import declared
from components.errors import ConfigurationError, DataError
from components.indicators import (
    FloatArray,
    adx,
    atr,
    efficiency_ratio,
    log_returns,
    realized_volatility,
    rolling_std,
    rsi,
    sma,
)
from components.learning.config import ClmConfig
from components.market.base import BAR_COLUMNS

# The rolling regime columns apply the classifier's own rules (decide_states).
from components.regime.classifier import ClassifierConfig, MarketState, decide_states

IntArray = npt.NDArray[np.int64]

REGIME_STATES: tuple[MarketState, ...] = tuple(MarketState)
"""The market states, in the order of the ``regime_<STATE>`` feature columns."""

Horizon = Annotated[int, Field(ge=1, le=10_000)]


class FeatureConfig(BaseModel):
    """Windows of every feature (see the module docstring); the defaults suit hourly bars.

    Example: ``FeatureConfig(return_horizons=(1, 4, 24), regime=None)`` (no regime columns).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    return_horizons: tuple[Horizon, ...] = Field(
        (1, 3, 6, 12, 24), min_length=1, max_length=12, description="Bars of each ret_<h>."
    )
    volatility_window: int = Field(24, ge=2, le=10_000, description="Bars of volatility.")
    rsi_period: int = Field(14, ge=2, le=1_000)
    adx_period: int = Field(14, ge=2, le=1_000)
    atr_fast: int = Field(14, ge=1, le=1_000, description="ATR of the numerator.")
    atr_slow: int = Field(96, ge=2, le=10_000, description="ATR of the denominator.")
    volume_window: int = Field(48, ge=2, le=10_000, description="Bars of volume_z.")
    regime: ClassifierConfig | None = Field(
        default_factory=ClassifierConfig,
        description="Classifier of the trend, swing and regime_<S> columns; None: left out.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        horizons = self.return_horizons
        if list(horizons) != sorted(set(horizons)):
            raise ValueError(f"return_horizons={horizons} must be increasing, without repeats")
        if self.atr_fast >= self.atr_slow:
            raise ValueError(f"atr_fast={self.atr_fast} must be below atr_slow={self.atr_slow}")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The feature columns, in order.

        Example: ``FeatureConfig().names[:2]`` -> ``("ret_1", "ret_3")``.
        """
        names = [f"ret_{h}" for h in self.return_horizons]
        names += ["volatility", "rsi", "adx", "atr_ratio", "volume_z"]
        if self.regime is not None:
            names += ["trend", "swing", *(f"regime_{s.value}" for s in REGIME_STATES)]
        return tuple(names)

    @property
    def warmup(self) -> int:
        """Bars needed before every feature is defined: the last of ``warmup`` bars is the
        first with no NaN feature.

        Example: ``FeatureConfig().warmup`` -> ``96`` (the slow ATR needs 96 bars).
        """
        needs = [
            max(self.return_horizons) + 1,
            self.volatility_window + 1,
            self.rsi_period + 1,
            2 * self.adx_period,
            self.atr_slow,
            self.volume_window,
        ]
        if self.regime is not None:
            needs.append(self.regime.lookback + 1)
        return max(needs)


class LabelConfig(BaseModel):
    """The label: the sign of the forward return over ``horizon`` bars, with a dead zone.

    Example: ``LabelConfig(horizon=4, dead_zone=0.002)``: a 4-bar move under 0.2% is no
    decision.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: int = declared(ClmConfig, "horizon")
    dead_zone: float = declared(ClmConfig, "dead_zone")


@dataclass(frozen=True, slots=True, eq=False)
class FeatureArrays:
    """Features of one or many series: ``values`` has shape (..., time, features).

    Attributes
    ----------
    names:
        The feature columns, in the order of the last axis.
    values:
        float64, NaN where a feature is still warming up; (time, features) for 1-D
        input, (symbols, time, features) for 2-D input.
    """

    names: tuple[str, ...]
    values: FloatArray


def feature_arrays(
    open: npt.ArrayLike,
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    *,
    config: FeatureConfig,
) -> FeatureArrays:
    """Every feature of ``config`` per bar, from OHLCV arrays.

    Parameters
    ----------
    open, high, low, close, volume
        Finite prices and volumes of one shape: 1-D (time) or 2-D (symbols x time).
        ``open`` is accepted for symmetry with the strategy contract and not used.
    config
        Which features, over which windows.

    Returns
    -------
    FeatureArrays
        ``values`` of shape ``close.shape + (len(config.names),)``; the feature at bar
        ``t`` depends on bars ``<= t`` only.

    Raises
    ------
    DataError
        The arrays differ in shape or are not 1-D or 2-D.

    Example: ``feature_arrays(o, h, l, c, v, config=FeatureConfig()).values[-1]``.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (open, high, low, close, volume)]
    if len({a.shape for a in arrays}) > 1:
        detail = ", ".join(f"{n}{a.shape}" for n, a in zip(BAR_COLUMNS, arrays, strict=True))
        raise DataError(f"OHLCV arrays must have one shape, got {detail}")
    if arrays[0].ndim not in (1, 2):
        raise DataError(f"OHLCV arrays must be 1-D or 2-D, got shape {arrays[0].shape}")
    was_1d = arrays[0].ndim == 1
    _, h, lo, c, v = (a[np.newaxis, :] if was_1d else a for a in arrays)

    columns: list[FloatArray] = [log_returns(c, n) for n in config.return_horizons]
    columns.append(realized_volatility(c, config.volatility_window))
    columns.append(rsi(c, config.rsi_period) / 100.0 - 0.5)
    columns.append(adx(h, lo, c, config.adx_period) / 100.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slow = atr(h, lo, c, config.atr_slow)
        columns.append(np.where(slow > 0, atr(h, lo, c, config.atr_fast) / slow, 1.0))
        columns[-1][np.isnan(slow)] = np.nan
    columns.append(_zscore(np.log1p(np.maximum(v, 0.0)), config.volume_window))
    if config.regime is not None:
        columns.extend(_regime_columns(c, config.regime))

    values = np.stack(columns, axis=-1)
    return FeatureArrays(config.names, values[0] if was_1d else values)


def feature_frame(bars: pd.DataFrame, *, config: FeatureConfig) -> pd.DataFrame:
    """The features of one symbol's bars as a DataFrame indexed like ``bars``.

    Needs the columns ``open, high, low, close, volume`` (see :mod:`components.market.base`).

    Example: ``feature_frame(bars, config=FeatureConfig()).dropna().tail()``.
    """
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise DataError(f"bars have no {', '.join(map(repr, missing))} column")
    columns = [bars[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]
    features = feature_arrays(*columns, config=config)
    return pd.DataFrame(features.values, index=bars.index, columns=list(features.names))


def _zscore(x: FloatArray, n: int) -> FloatArray:
    """``(x - mean) / std`` over the trailing ``n`` values; 0 where the window is flat."""
    mean = sma(x, n)
    std = rolling_std(x, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std > 0, (x - mean) / std, 0.0)
    z[np.isnan(std)] = np.nan
    return z


def _regime_columns(close: FloatArray, cfg: ClassifierConfig) -> list[FloatArray]:
    """``trend``, ``swing`` and one ``regime_<S>`` column per state: the classifier's
    features and decision over the trailing ``lookback + 1`` bars at every bar."""
    lookback = cfg.lookback
    volatility = realized_volatility(close, lookback) * np.sqrt(cfg.bars_per_day)
    trend = efficiency_ratio(close, lookback)
    direction = np.sign(log_returns(close, lookback))
    # The classifier averages the short efficiency ratios that fit in its window.
    swing = sma(efficiency_ratio(close, cfg.swing_window), lookback - cfg.swing_window + 1)
    ready = np.isfinite(volatility) & np.isfinite(trend) & np.isfinite(direction)
    ready &= np.isfinite(swing)

    index = {state: k for k, state in enumerate(REGIME_STATES)}
    codes = np.full(close.shape, -1, dtype=np.int64)
    if ready.any():
        states = decide_states(cfg, volatility[ready], trend[ready], direction[ready], swing[ready])
        codes[ready] = [index[s] for s in states]
    one_hot = [np.where(ready, (codes == k).astype(np.float64), np.nan) for k in index.values()]
    signed_trend = np.where(ready, direction * trend, np.nan)
    return [signed_trend, np.where(ready, swing, np.nan), *one_hot]


# --- labels --------------------------------------------------------------------------------


def forward_returns(close: npt.ArrayLike, horizon: int) -> FloatArray:
    """``close[t + horizon] / close[t] - 1`` per bar; NaN for the last ``horizon`` bars.

    Example: ``forward_returns([100.0, 110.0, 99.0], 1)`` -> ``[0.1, -0.1, nan]``.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigurationError(f"horizon must be an integer >= 1, got {horizon!r}")
    c = np.asarray(close, dtype=np.float64)
    out = np.full_like(c, np.nan)
    if horizon < c.shape[-1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., :-horizon] = c[..., horizon:] / c[..., :-horizon] - 1.0
    return out


def make_labels(close: npt.ArrayLike, config: LabelConfig) -> FloatArray:
    """1.0 where the forward return over ``config.horizon`` bars is up, 0.0 where down,
    NaN inside the dead zone (``|r| < dead_zone``) and where the future is not known yet.

    Example: ``make_labels(close, LabelConfig(horizon=4, dead_zone=0.001))``.
    """
    forward = forward_returns(close, config.horizon)
    labels = np.where(forward > 0, 1.0, 0.0)
    labels[~(np.abs(forward) >= config.dead_zone) | np.isnan(forward)] = np.nan
    return labels


# --- splits ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class TimeSplit:
    """One walk-forward split: sample positions to train on and to test on.

    Every training position is below every test position, by at least ``purge +
    embargo`` positions.
    """

    train: IntArray
    test: IntArray

    @property
    def gap(self) -> int:
        """Positions between the last training sample and the first test sample."""
        if len(self.train) == 0 or len(self.test) == 0:
            return 0
        return int(self.test[0] - self.train[-1] - 1)


def time_splits(
    n: int,
    *,
    train: int | None,
    test: int,
    purge: int,
    embargo: int = 0,
    folds: int | None = None,
) -> list[TimeSplit]:
    """Walk-forward splits of ``n`` time-ordered samples, the last test window ending at
    the last sample, oldest split first.

    Parameters
    ----------
    n
        Samples, in time order (position ``t`` is bar ``t``).
    train
        Training samples per split (a rolling window); ``None`` takes every sample before
        the gap (an expanding window).
    test
        Test samples per split; test windows tile back from the end without overlapping.
    purge
        Samples dropped right before each test window. A sample's label at ``t`` uses bars
        up to ``t + horizon``: with ``purge >= horizon`` no training label reaches a test
        bar.
    embargo
        Further samples dropped before the purge (serial correlation of features).
    folds
        At most this many splits (the most recent ones); ``None`` as many as fit.

    Returns
    -------
    list of TimeSplit
        Oldest first; a split needs at least one training sample (a full ``train`` window
        when it is given).

    Raises
    ------
    ConfigurationError
        A size is negative or zero where it must be positive, or not one split fits.

    Example: ``time_splits(1_000, train=500, test=100, purge=4, embargo=2)[-1].test[0]``
    -> ``900``.
    """
    for name, value, low in (("n", n, 1), ("test", test, 1), ("purge", purge, 0)):
        if value < low:
            raise ConfigurationError(f"{name} must be >= {low}, got {value}")
    if embargo < 0:
        raise ConfigurationError(f"embargo must be >= 0, got {embargo}")
    if train is not None and train < 1:
        raise ConfigurationError(f"train must be >= 1 or None, got {train}")
    if folds is not None and folds < 1:
        raise ConfigurationError(f"folds must be >= 1 or None, got {folds}")
    gap = purge + embargo
    needed = (train or 1) + gap
    splits: list[TimeSplit] = []
    end = n
    while end - test >= needed and (folds is None or len(splits) < folds):
        start = end - test
        train_end = start - gap
        train_start = 0 if train is None else train_end - train
        splits.append(
            TimeSplit(
                train=np.arange(train_start, train_end, dtype=np.int64),
                test=np.arange(start, end, dtype=np.int64),
            )
        )
        end = start
    if not splits:
        raise ConfigurationError(
            f"no split fits {n} samples: one needs train={train or 1} + purge={purge} + "
            f"embargo={embargo} + test={test} = {needed + test}; "
            "give more bars or smaller windows"
        )
    return splits[::-1]


# --- datasets ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Dataset:
    """Feature rows of many symbols on one timeline, for training and scoring.

    Attributes
    ----------
    names:
        Feature columns.
    X:
        (rows, features) float64, every value finite.
    y:
        1.0 up, 0.0 down, NaN no label (dead zone or future unknown).
    time:
        Each row's position on :attr:`timeline` (the sorted union of bar times).
    symbol:
        Each row's symbol.
    timeline:
        Every bar time of every symbol, sorted, once.
    """

    names: tuple[str, ...]
    X: FloatArray
    y: FloatArray
    time: IntArray
    symbol: npt.NDArray[np.str_]
    timeline: pd.DatetimeIndex

    def rows(self, mask: npt.NDArray[np.bool_]) -> Dataset:
        """The rows where ``mask`` holds, timeline unchanged."""
        return Dataset(
            self.names,
            self.X[mask],
            self.y[mask],
            self.time[mask],
            self.symbol[mask],
            self.timeline,
        )

    @property
    def labelled(self) -> npt.NDArray[np.bool_]:
        """Rows with a label (not in the dead zone, future known)."""
        return ~np.isnan(self.y)


def build_dataset(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    *,
    features: FeatureConfig,
    label: LabelConfig,
) -> Dataset:
    """Feature rows (finite features only) and labels of every symbol, on one timeline.

    Parameters
    ----------
    bars_by_symbol
        ``{symbol: bars}`` per :mod:`components.market.base`.
    features, label
        What to compute.

    Raises
    ------
    DataError
        No symbols, a frame lacks a column, or no symbol has a single bar past the warm-up.

    Example: ``build_dataset({"BTC/USDT": bars}, features=FeatureConfig(), label=LabelConfig())``.
    """
    if not bars_by_symbol:
        raise DataError("no bars given: bars_by_symbol is empty")
    indexes = [frame.index for frame in bars_by_symbol.values()]
    timeline = pd.DatetimeIndex(indexes[0].append(indexes[1:]).unique().sort_values())
    parts: list[tuple[FloatArray, FloatArray, IntArray, str]] = []
    for symbol in sorted(bars_by_symbol):
        frame = bars_by_symbol[symbol]
        missing = [c for c in BAR_COLUMNS if c not in frame.columns]
        if missing:
            raise DataError(f"bars of {symbol} have no {', '.join(map(repr, missing))} column")
        columns = [frame[c].to_numpy(dtype=np.float64) for c in BAR_COLUMNS]
        values = feature_arrays(*columns, config=features).values
        labels = make_labels(columns[3], label)
        keep = np.isfinite(values).all(axis=1)
        time = timeline.get_indexer(frame.index).astype(np.int64)
        parts.append((values[keep], labels[keep], time[keep], symbol))
    rows = sum(len(p[0]) for p in parts)
    if rows == 0:
        longest = max(len(f) for f in bars_by_symbol.values())
        raise DataError(
            f"no bar past the feature warm-up: the longest series has {longest} bars, "
            f"the features need {features.warmup}"
        )
    return Dataset(
        names=features.names,
        X=np.concatenate([p[0] for p in parts]),
        y=np.concatenate([p[1] for p in parts]),
        time=np.concatenate([p[2] for p in parts]),
        symbol=np.concatenate([np.full(len(p[0]), p[3]) for p in parts]),
        timeline=timeline,
    )
