"""Market-state classifier: which regime each symbol, and the market as a whole, is in.

Three features per symbol, over the last ``lookback`` bars (all in
:mod:`components.indicators`):

volatility
    Realised volatility (standard deviation of log returns) scaled to a **daily**
    equivalent, ``per-bar vol * sqrt(bars_per_day)``, so the thresholds mean the same on
    every timeframe: ``QT_MSC_HIGH_VOLATILITY=0.05`` is 5% a day whether the bars are 5m,
    1h or 1d.
trend_strength
    Kaufman's efficiency ratio over the window, in [0, 1]: 1 for a straight line, about
    ``1/sqrt(lookback)`` for a random walk, near 0 for a range.
direction
    The sign of the net log return over the window (+1, -1, or 0 when flat).

and one that tells a zig-zag from a range:

swing
    The mean efficiency ratio over short windows of ``swing_window`` bars. Noise around
    a level scores ~0.2, a random walk ~0.45, legs of several bars that keep reversing
    0.6-0.9. Short trends that go nowhere are what traders call *choppy*.

The decision, first match wins:

1. ``trend_strength >= strong_trend``  -> BULL_STRONG / BEAR_STRONG (even when volatile)
2. ``volatility >= high_volatility``   -> VOLATILE
3. ``trend_strength >= weak_trend``    -> BULL_WEAK / BEAR_WEAK
4. ``volatility < low_volatility``     -> SIDEWAYS_TIGHT
5. ``swing >= choppy_swing``           -> CHOPPY
6. otherwise                           -> SIDEWAYS_WIDE

The market as a whole takes the (volume-weighted) median of each feature across symbols,
with the trend signed (``direction * trend_strength``) so that half the market rising and
half falling reads as no trend, and goes through the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.errors import DataError
from components.indicators import FloatArray, efficiency_ratio, stack_bars
from components.market.validation import bars_per_day
from components.regime.config import MarketState, MSCConfig

MARKET = "MARKET"
"""The ``symbol`` of the whole-market :class:`StateAssessment`."""


class ClassifierConfig(BaseModel):
    """Thresholds and windows of the market-state classifier (see the module docstring).

    Volatility thresholds are **daily** fractions (0.05 = 5% a day); the measured
    per-bar volatility is scaled by ``sqrt(bars_per_day)`` before comparing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    high_volatility: float = Field(0.05, gt=0, le=10, description="Daily vol: VOLATILE.")
    low_volatility: float = Field(0.015, gt=0, le=10, description="Daily vol: TIGHT below.")
    strong_trend: float = Field(0.7, gt=0, le=1, description="Efficiency ratio: STRONG.")
    weak_trend: float = Field(0.3, gt=0, le=1, description="Efficiency ratio: WEAK.")
    choppy_swing: float = Field(0.55, gt=0, le=1, description="Mean short ER: CHOPPY.")
    lookback: int = Field(48, ge=8, le=100_000, description="Bars in the window.")
    swing_window: int = Field(5, ge=2, le=1_000, description="Bars per short swing window.")
    bars_per_day: float = Field(24.0, gt=0, le=86_400, description="1h bars: 24.")
    weighting: Literal["volume", "equal"] = Field(
        "volume", description="How symbols weigh in the market median (quote volume)."
    )

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.low_volatility >= self.high_volatility:
            raise ValueError(
                f"low_volatility={self.low_volatility} must be below "
                f"high_volatility={self.high_volatility}"
            )
        if self.weak_trend >= self.strong_trend:
            raise ValueError(
                f"weak_trend={self.weak_trend} must be below strong_trend={self.strong_trend}"
            )
        if self.swing_window >= self.lookback:
            raise ValueError(
                f"swing_window={self.swing_window} must be below lookback={self.lookback}"
            )
        return self

    @classmethod
    def from_msc(cls, msc: MSCConfig, *, timeframe: str = "1h", **overrides: Any) -> Self:
        """The MSC's thresholds (``settings.msc``: one declaration for both), for bars of
        ``timeframe`` (one of :data:`components.market.base.TIMEFRAMES`); ``overrides`` set
        other fields."""
        values: dict[str, Any] = {
            "high_volatility": msc.high_volatility,
            "low_volatility": msc.low_volatility,
            "strong_trend": msc.strong_trend,
            "weak_trend": min(0.3, msc.strong_trend / 2),
            "bars_per_day": bars_per_day(timeframe),
        }
        values.update(overrides)
        return cls(**values)


class StateAssessment(BaseModel):
    """The regime of one symbol (or of the whole market, ``symbol="MARKET"``).

    ``volatility`` is daily-equivalent realised volatility, ``trend_strength`` the
    efficiency ratio in [0, 1], ``direction`` the sign of ``window_return`` (the net log
    return over the window), ``swing`` the mean short-window efficiency ratio.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    state: MarketState
    volatility: float = Field(ge=0)
    trend_strength: float = Field(ge=0, le=1)
    direction: Literal[-1, 0, 1]
    window_return: float
    swing: float = Field(ge=0, le=1)
    bars: int = Field(ge=0, description="Bars the features were computed on.")


class MarketClassification(BaseModel):
    """Per-symbol states, the market's state, and the symbols left out (with why)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    market: StateAssessment
    symbols: dict[str, StateAssessment]
    skipped: dict[str, str] = Field(default_factory=dict)


def decide_states(
    config: ClassifierConfig,
    volatility: FloatArray,
    trend: FloatArray,
    direction: FloatArray,
    swing: FloatArray,
) -> list[MarketState]:
    """The state of each element of the feature arrays, by the rules of the module
    docstring (first match wins). Shared with the learning features, so the regime a
    model sees is the one the classifier would name.

    Example: ``decide_states(config, vol, trend, direction, swing)[0]``.
    """
    up = direction >= 0
    conditions = [
        (trend >= config.strong_trend) & up,
        trend >= config.strong_trend,
        volatility >= config.high_volatility,
        (trend >= config.weak_trend) & up,
        trend >= config.weak_trend,
        volatility < config.low_volatility,
        swing >= config.choppy_swing,
    ]
    choices = [
        MarketState.BULL_STRONG,
        MarketState.BEAR_STRONG,
        MarketState.VOLATILE,
        MarketState.BULL_WEAK,
        MarketState.BEAR_WEAK,
        MarketState.SIDEWAYS_TIGHT,
        MarketState.CHOPPY,
    ]
    codes = np.select(conditions, list(range(len(choices))), default=len(choices))
    table = [*choices, MarketState.SIDEWAYS_WIDE]
    return [table[int(code)] for code in codes]


class RegimeClassifier:
    """Classify many symbols at once, and the market as a whole.

    Example::

        classifier = RegimeClassifier(ClassifierConfig.from_msc(settings.msc))
        result = classifier.classify(bars)          # {symbol: DataFrame}
        result.market.state, result.symbols["BTC/USDT"].state
    """

    def __init__(self, config: ClassifierConfig) -> None:
        self.config = config

    @property
    def bars_needed(self) -> int:
        """Bars a symbol needs to be classified: ``lookback + 1``."""
        return self.config.lookback + 1

    def classify(self, bars: Mapping[str, pd.DataFrame]) -> MarketClassification:
        """Classify each symbol's bars and the market.

        Parameters
        ----------
        bars
            ``{symbol: bars}``; needs the ``close`` column, and ``volume`` for volume
            weighting (without it, symbols weigh equally). Symbols with fewer than
            :attr:`bars_needed` bars, or non-finite / non-positive closes in the window,
            are skipped with a reason.

        Raises
        ------
        DataError
            No symbol can be classified, or a frame has no ``close`` column.
        """
        length = self.bars_needed
        skipped: dict[str, str] = {}
        usable: list[str] = []
        for symbol in sorted(bars):
            frame = bars[symbol]
            if "close" not in frame.columns:
                raise DataError(f"bars of {symbol} have no 'close' column")
            if len(frame) < length:
                skipped[symbol] = f"{len(frame)} bars, {length} needed"
            else:
                usable.append(symbol)
        with_volume = all("volume" in bars[s].columns for s in usable)
        columns = ("close", "volume") if with_volume else ("close",)
        stacked = stack_bars(bars, usable, length=length, columns=columns)
        return self._classify(usable, stacked["close"], stacked.get("volume"), skipped)

    def classify_arrays(
        self,
        symbols: Sequence[str],
        close: npt.ArrayLike,
        *,
        volume: npt.ArrayLike | None = None,
    ) -> MarketClassification:
        """Classify (symbols x time) arrays of closes (and base volumes), aligned on the
        last column; only the last :attr:`bars_needed` columns are used."""
        c = np.asarray(close, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] != len(symbols):
            raise DataError(
                f"close must be (symbols x time) with {len(symbols)} rows, got {c.shape}"
            )
        length = self.bars_needed
        if c.shape[1] < length:
            raise DataError(f"close has {c.shape[1]} bars, {length} needed")
        v = None
        if volume is not None:
            v = np.asarray(volume, dtype=np.float64)
            if v.shape != c.shape:
                raise DataError(f"volume has shape {v.shape}, close {c.shape}")
            v = v[:, -length:]
        order = sorted(range(len(symbols)), key=lambda i: symbols[i])
        return self._classify(
            [symbols[i] for i in order],
            c[order, -length:],
            None if v is None else v[order],
            {},
        )

    def _classify(
        self,
        symbols: list[str],
        close: FloatArray,
        volume: FloatArray | None,
        skipped: dict[str, str],
    ) -> MarketClassification:
        cfg = self.config
        good = np.isfinite(close).all(axis=1) & (close > 0).all(axis=1)
        for i in np.flatnonzero(~good):
            skipped[symbols[i]] = "non-finite or non-positive close in the window"
        keep = np.flatnonzero(good)
        if len(keep) == 0:
            detail = "; ".join(f"{s}: {why}" for s, why in sorted(skipped.items()))
            raise DataError(f"no symbol can be classified ({detail or 'no bars given'})")
        names = [symbols[i] for i in keep]
        c = close[keep]
        log_ret = np.log(c[:, 1:] / c[:, :-1])
        volatility = log_ret.std(axis=1, ddof=1) * np.sqrt(cfg.bars_per_day)
        trend = efficiency_ratio(c, cfg.lookback)[:, -1]
        window_return = np.log(c[:, -1] / c[:, 0])
        direction = np.sign(window_return)
        swing = np.nanmean(efficiency_ratio(c, cfg.swing_window)[:, cfg.swing_window :], axis=1)

        states = decide_states(cfg, volatility, trend, direction, swing)
        assessments = {
            name: StateAssessment(
                symbol=name,
                state=states[k],
                volatility=float(volatility[k]),
                trend_strength=float(trend[k]),
                direction=int(direction[k]),
                window_return=float(window_return[k]),
                swing=float(swing[k]),
                bars=c.shape[1],
            )
            for k, name in enumerate(names)
        }

        weights = np.ones(len(names))
        if cfg.weighting == "volume" and volume is not None:
            quote = np.nan_to_num(volume[keep] * c, nan=0.0, posinf=0.0).mean(axis=1)
            if quote.sum() > 0:
                weights = np.maximum(quote, 0.0)
        signed_trend = _weighted_median(direction * trend, weights)
        m_volatility = _weighted_median(volatility, weights)
        m_swing = _weighted_median(swing, weights)
        m_return = _weighted_median(window_return, weights)
        m_direction = float(np.sign(signed_trend) if signed_trend != 0 else np.sign(m_return))
        m_trend = abs(signed_trend)
        (m_state,) = decide_states(
            cfg,
            np.array([m_volatility]),
            np.array([m_trend]),
            np.array([m_direction]),
            np.array([m_swing]),
        )
        market = StateAssessment(
            symbol=MARKET,
            state=m_state,
            volatility=m_volatility,
            trend_strength=m_trend,
            direction=int(m_direction),
            window_return=m_return,
            swing=m_swing,
            bars=c.shape[1],
        )
        return MarketClassification(market=market, symbols=assessments, skipped=skipped)


def _weighted_median(values: FloatArray, weights: FloatArray) -> float:
    """The value where the cumulative weight (sorted by value) reaches half; the mean of
    the two middle values when it reaches exactly half (an even split)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    cumulative = np.cumsum(weights[order])
    half = cumulative[-1] / 2
    k = min(int(np.searchsorted(cumulative, half)), len(values) - 1)
    if k + 1 < len(values) and np.isclose(cumulative[k], half, rtol=1e-12, atol=0.0):
        return float((ordered[k] + ordered[k + 1]) / 2)
    return float(ordered[k])
