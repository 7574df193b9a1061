"""The engine's signals, kept up to date bar by bar instead of recomputed every cycle.

A :class:`SignalBook` holds, for one group of symbols (one :class:`BarBlock` index), each
strategy's signals and the ATR, and brings them up to date with the bars that closed since
the last cycle::

    book = SignalBook(("BTC/USDT", "ETH/USDT"))
    latest = book.update(block, {"momentum": momentum})   # each cycle
    latest.signals["momentum"].direction                  # (symbols,) at the newest bar

Each computation covers every bar since it first saw this group (its *anchor*: the
engine's first window, ``history_bars`` long). A strategy that streams (see
:mod:`components.stream`) is updated with the new bars only, and gives exactly what one
call of ``signal_arrays`` over all the bars since the anchor gives: the backtester's
computation. With ``incremental=False`` the book makes that call every cycle instead
(keeping every bar since the anchor): the reference the incremental path is tested
against. A strategy that does not stream is computed over the current window every cycle.

When the bars do not continue the ones seen (the engine was stopped for longer than its
window, or the symbols changed), the book starts again from the current window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from components.indicators import FloatArray, atr, lag
from components.market.block import BarBlock
from components.strategies import Strategy
from components.strategies.base import Int8Array
from components.stream import Stream

ATR_PERIOD = 14


@dataclass(frozen=True)
class LatestSignals:
    """One strategy's signal at the newest bar of each symbol of a book."""

    direction: Int8Array
    confidence: FloatArray


@dataclass(frozen=True)
class BookUpdate:
    """What :meth:`SignalBook.update` found at the newest bar."""

    signals: dict[str, LatestSignals]
    atrs: list[float | None]
    """The ATR through the newest bar (the trailing stop moves by it)."""
    entry_atrs: list[float | None]
    """The ATR through the bar before the newest: the one known when the newest bar opened,
    for the default exit levels of a position filled at that bar's open."""
    new_bars: int


class _Series:
    """One computation over the bars of a book: by stream, by full recomputation over
    every bar since its anchor, or over the window only."""

    def __init__(self, fn: Callable[..., Any], *, mode: str) -> None:
        self.fn = fn
        self.mode = mode  # "stream" | "full" | "window"
        self.stream: Stream[Any] | None = Stream(fn) if mode == "stream" else None
        self.history: np.ndarray | None = None
        self.last: Any = None

    def update(self, block: BarBlock, new: BarBlock) -> Any:
        """The computation at the newest bar of ``block``, given the bars ``new`` to it
        that it has not seen (all of ``block`` the first time)."""
        if self.last is not None and len(new) == 0:
            return self.last
        if self.mode == "window":
            out = self.fn(*block.columns())
        elif self.stream is not None:
            out = self.stream.update(*new.columns())
        else:
            values = (
                new.values
                if self.history is None
                else np.concatenate([self.history, new.values], axis=2)
            )
            self.history = values
            out = self.fn(*values)
        self.last = tuple(a[:, -1].copy() for a in out) if isinstance(out, tuple) else out[:, -1]
        return self.last


@dataclass
class SignalBook:
    """Signals and ATR of one group of symbols, updated by the bars of each cycle (see the
    module docstring)."""

    symbols: tuple[str, ...]
    incremental: bool = True
    last_time: int | None = None
    _series: dict[str, _Series] = field(default_factory=dict, repr=False)

    def update(self, block: BarBlock, strategies: Mapping[str, Strategy[Any]]) -> BookUpdate:
        """Bring every strategy of ``strategies`` (by name) and the ATR up to the newest
        bar of ``block`` (whose symbols are this book's).

        A strategy seen for the first time is anchored at ``block``; one no longer asked
        for is forgotten.
        """
        if block.symbols != self.symbols:
            raise ValueError(f"a book of {len(self.symbols)} symbols got another block")
        if self.last_time is not None and not _continues(block, self.last_time):
            self._series.clear()  # a gap, or bars from before: start again from here
            self.last_time = None
        new = block if self.last_time is None else block.since(self.last_time)
        fresh = block  # what a computation seen for the first time starts from
        for name in list(self._series):
            if name != "" and name not in strategies:
                del self._series[name]
        wanted: dict[str, Callable[..., Any]] = {"": _atr_of}
        wanted.update({name: s.signal_arrays for name, s in strategies.items()})
        outputs: dict[str, Any] = {}
        for name, fn in wanted.items():
            series = self._series.get(name)
            if series is None:
                streams = name == "" or strategies[name].streams
                mode = ("stream" if self.incremental else "full") if streams else "window"
                series = self._series[name] = _Series(fn, mode=mode)
                outputs[name] = series.update(block, fresh)
            else:
                outputs[name] = series.update(block, new)
        self.last_time = int(block.times[-1])
        now, before = outputs.pop("")
        signals = {name: LatestSignals(*out) for name, out in outputs.items()}
        return BookUpdate(
            signals=signals, atrs=_known(now), entry_atrs=_known(before), new_bars=len(new)
        )


def _atr_of(
    open: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """The ATR at each bar and at the bar before it."""
    values = atr(high, low, close, ATR_PERIOD)
    return values, lag(values, 1)


def _known(values: FloatArray) -> list[float | None]:
    return [float(v) if math.isfinite(v) and v > 0 else None for v in values.tolist()]


def _continues(block: BarBlock, last_time: int) -> bool:
    """Whether ``block`` holds the bar seen last (so the bars after it are the new ones)."""
    at = int(np.searchsorted(block.times, last_time))
    return at < len(block.times) and int(block.times[at]) == last_time


__all__ = ["BookUpdate", "LatestSignals", "SignalBook"]
