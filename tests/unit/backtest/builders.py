"""Bars and strategies for the backtester tests: random walks, signals replayed from an
array, and strategies built to peek at later bars."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field

from components.indicators import FloatArray, sma
from components.market.base import BAR_COLUMNS
from components.strategies.base import Strategy, StrategyParams

START = pd.Timestamp("2024-01-01", tz="UTC")


def bars_from_prices(
    open_: Sequence[float] | np.ndarray,
    close: Sequence[float] | np.ndarray,
    *,
    wick: float = 0.002,
    freq: str = "1h",
) -> pd.DataFrame:
    """Bars with the given opens and closes; highs and lows stick out by ``wick``."""
    o = np.asarray(open_, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    high = np.maximum(o, c) * (1 + wick)
    low = np.minimum(o, c) * (1 - wick)
    index = pd.date_range(START, periods=len(c), freq=freq, name="timestamp")
    return pd.DataFrame(
        np.column_stack([o, high, low, c, np.full(len(c), 100.0)]),
        index=index,
        columns=list(BAR_COLUMNS),
    )


def random_walk(
    n: int, *, seed: int = 0, volatility: float = 0.01, gap: float = 0.002, freq: str = "1h"
) -> pd.DataFrame:
    """``n`` bars of a geometric random walk from 100; each bar opens a little away from
    the previous close (``gap``), so open and close prices differ."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, volatility, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, gap, n))
    return bars_from_prices(open_, close, wick=volatility / 2, freq=freq)


class NoParams(StrategyParams):
    """A strategy without params."""


class ReplaySignals(Strategy[NoParams]):
    """Replays fixed signals, cut to the bars it is given: a direction (and confidence)
    per bar, the same for every symbol (1-D), or one row per symbol (2-D)."""

    name: ClassVar[str] = "replay"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    def __init__(
        self, direction: Sequence[int] | np.ndarray, confidence: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        self.direction = np.asarray(direction, dtype=np.int8)
        self.confidence = (
            np.ones(self.direction.shape)
            if confidence is None
            else np.asarray(confidence, dtype=np.float64)
        )
        self.calls: list[int] = []

    @property
    def warmup(self) -> int:
        return 1

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        n = close.shape[-1]
        self.calls.append(n)
        shape = (close.shape[0], n)
        return (
            np.broadcast_to(self.direction[..., :n], shape).copy(),
            np.broadcast_to(self.confidence[..., :n], shape).copy(),
        )


class LagParams(StrategyParams):
    lag: int = Field(1, ge=1, le=50, description="Bars ahead it peeks.")


P = TypeVar("P", bound=StrategyParams)


class SideFromCloses(Strategy[P]):
    """A strategy whose side (+1, 0, -1) is a rule over the closes; warm-up 1."""

    @property
    def warmup(self) -> int:
        return 1

    def _signals(
        self,
        open: FloatArray,
        high: FloatArray,
        low: FloatArray,
        close: FloatArray,
        volume: FloatArray,
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        side = self.side_and_volume(close, volume)
        return side, np.abs(side).astype(np.float64)

    def side_and_volume(self, close: FloatArray, volume: FloatArray) -> npt.NDArray[Any]:
        """The side from closes and volumes; by default from the closes alone."""
        return self.side(close)

    @abstractmethod
    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        """The side per bar from 2-D (symbols x time) closes."""


class PeekNextClose(SideFromCloses[LagParams]):
    """Long when the close ``lag`` bars ahead is higher: ``close.shift(-lag)``, a peek."""

    name: ClassVar[str] = "peek_next_close"
    params_type: ClassVar[type[StrategyParams]] = LagParams

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        lag = self.params.lag
        ahead = np.full_like(close, np.nan)
        ahead[:, :-lag] = close[:, lag:]
        return np.sign(np.nan_to_num(ahead - close))


class AboveFullSampleMean(SideFromCloses[NoParams]):
    """Long while the close is above the mean of *all* closes: a full-sample statistic."""

    name: ClassVar[str] = "above_full_sample_mean"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        return (close > close.mean(axis=-1, keepdims=True)).astype(np.int8)


class AboveRunningMean(SideFromCloses[NoParams]):
    """Long while the close is above the mean of every close so far: causal, but the
    signal depends on where the history starts."""

    name: ClassVar[str] = "above_running_mean"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        running = np.cumsum(close, axis=-1) / np.arange(1, close.shape[-1] + 1)
        return (close > running).astype(np.int8)


MARKER_VOLUME = 12_345.678
"""The volume that sets :class:`PeekOnce` off: a rare condition a test plants on one bar."""


class PeekOnce(SideFromCloses[NoParams]):
    """Long while a 5-bar SMA is above a 20-bar one (causal), except on a bar whose volume
    is :data:`MARKER_VOLUME`, where it goes short if the next close is lower and long
    otherwise: a strategy that peeks at one signal in thousands."""

    name: ClassVar[str] = "peek_once"
    params_type: ClassVar[type[StrategyParams]] = NoParams

    @property
    def warmup(self) -> int:
        return 20

    def side(self, close: FloatArray) -> npt.NDArray[Any]:
        return causal_side(close)

    def side_and_volume(self, close: FloatArray, volume: FloatArray) -> npt.NDArray[Any]:
        following = np.full_like(close, np.nan)
        following[:, :-1] = close[:, 1:]
        peek = np.where(following < close, -1, 1).astype(np.int8)
        return np.where(volume == MARKER_VOLUME, peek, causal_side(close))


def causal_side(close: FloatArray) -> npt.NDArray[np.int8]:
    """PeekOnce's signal without the peek: long while sma(5) > sma(20)."""
    return (sma(close, 5) > sma(close, 20)).astype(np.int8)


RoundTrip = tuple[int, int, str, float, float, float]
"""A closed trade as the exit-model tests compare it: entry bar, exit bar, exit reason,
entry price, exit price, size."""


def paper_round_trips(fills: Sequence[Any], index: pd.DatetimeIndex) -> list[RoundTrip]:
    """Long-only ledger fills paired into closed trades (a buy opens, the next sell closes;
    an order's exit is a ``signal`` exit), bars numbered by ``index``."""
    bar_of = {ts.to_pydatetime(): k for k, ts in enumerate(index)}
    trades: list[RoundTrip] = []
    entry = None
    for fill in sorted(fills, key=lambda f: f.filled_at):
        if fill.side.sign > 0:
            entry = fill
            continue
        assert entry is not None, f"a sell at {fill.filled_at} with nothing open"
        reason = "signal" if fill.reason.value == "order" else fill.reason.value
        trades.append(
            (bar_of[entry.filled_at], bar_of[fill.filled_at], reason,
             entry.price, fill.price, entry.quantity)
        )  # fmt: skip
        entry = None
    return trades


def backtest_round_trips(trades: pd.DataFrame) -> list[RoundTrip]:
    """A backtest's closed trades (those still open at the end left out), as
    :func:`paper_round_trips` gives them."""
    t = trades[trades["exit_reason"] != "end"]
    return [
        (int(a), int(b), str(r), float(p), float(q), float(z))
        for a, b, r, p, q, z in zip(
            t["entry_bar"], t["exit_bar"], t["exit_reason"].astype(str),
            t["entry_price"], t["exit_price"], t["size"], strict=True,
        )
    ]  # fmt: skip
