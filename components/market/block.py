"""Bars of many symbols at once: a :class:`BarBlock` is (symbols x time) arrays on one index.

The engine reads its whole universe as blocks, so nothing per symbol (a DataFrame, a
validation, a Python loop over rows) is made on its hot path::

    read = read_blocks(market, market.symbols(), "5m", limit=300)
    (block,) = read.blocks                  # the synthetic market: one block, one index
    close = block.column("close")           # (symbols, time) float64
    block.frame("BTC/USDT")                 # one symbol as a Bars frame, when needed

A source that can do better than one DataFrame per symbol implements
``bars_block(symbols, timeframe, *, limit, end) -> BlockRead``; :func:`read_blocks` uses
it, and falls back to ``bars_many`` (or ``bars`` one symbol at a time, when one symbol's
bars are bad) for any other source, grouping symbols whose frames share one index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from components.errors import DataError, QuantumTraderError, TemporaryError
from components.market.base import BAR_COLUMNS
from components.market.validation import validate_bars

FloatArray = npt.NDArray[np.float64]
_ROW = {name: i for i, name in enumerate(BAR_COLUMNS)}


@dataclass(frozen=True, eq=False)
class BarBlock:
    """Closed bars of several symbols sharing one time index.

    Attributes
    ----------
    symbols:
        One per row, in order.
    times:
        Bar open times, nanoseconds since the Unix epoch (UTC), strictly increasing.
    values:
        ``(5, symbols, time)`` float64: open, high, low, close, volume (volume in base
        units), as in the Bars contract of :mod:`components.market.base`.
    timeframe:
        The bars' timeframe, e.g. ``"5m"``.
    checked:
        The source already found every row to keep the contract (:meth:`problems`), so
        readers need not look again.

    Example: ``block.column("close")[block.row("BTC/USDT"), -1]`` is BTC's last close.
    """

    symbols: tuple[str, ...]
    times: npt.NDArray[np.int64]
    values: FloatArray
    timeframe: str
    checked: bool = False

    def __post_init__(self) -> None:
        rows, length = len(self.symbols), len(self.times)
        if self.values.shape != (len(BAR_COLUMNS), rows, length):
            raise DataError(
                f"a bar block of {rows} symbols x {length} bars needs values of shape "
                f"{(len(BAR_COLUMNS), rows, length)}, got {self.values.shape}"
            )

    @cached_property
    def _rows(self) -> dict[str, int]:
        """Each symbol's row, made at the first lookup: the blocks cut from this one by
        time (each cycle's new bars) are never asked for a row."""
        return {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.times)

    def __contains__(self, symbol: object) -> bool:
        """Whether ``symbol`` has a row (a dict lookup, not a scan of ``symbols``)."""
        return symbol in self._rows

    @property
    def index(self) -> pd.DatetimeIndex:
        """The bars' open times as the Bars contract's index."""
        return pd.DatetimeIndex(self.times.astype("M8[ns]"), name="timestamp").tz_localize("UTC")

    def row(self, symbol: str) -> int:
        """The row of ``symbol``; KeyError when it is not in the block."""
        return self._rows[symbol]

    def column(self, name: str) -> FloatArray:
        """One of ``open, high, low, close, volume`` as a (symbols, time) array (a view)."""
        return self.values[_ROW[name]]

    def columns(self) -> list[FloatArray]:
        """``[open, high, low, close, volume]``, each (symbols, time): what
        ``Strategy.signal_arrays`` takes."""
        return list(self.values)

    def last(self, name: str) -> FloatArray:
        """The newest bar's ``name`` of every symbol, shape (symbols,)."""
        return self.values[_ROW[name], :, -1]

    def frame(self, symbol: str) -> pd.DataFrame:
        """The bars of ``symbol`` as a Bars frame (a new frame; the block is unchanged)."""
        data = self.values[:, self._rows[symbol], :].T.copy()
        return pd.DataFrame(data, index=self.index, columns=list(BAR_COLUMNS))

    def frames(self) -> Mapping[str, pd.DataFrame]:
        """Every symbol's Bars frame, each made the first time it is looked up."""
        return _LazyFrames([self])

    def since(self, time_ns: int) -> BarBlock:
        """The bars opening after ``time_ns`` (a block of no bars when there are none)."""
        start = int(np.searchsorted(self.times, time_ns, side="right"))
        return self.tail(len(self.times) - start)

    def tail(self, count: int) -> BarBlock:
        """The last ``count`` bars (all of them when there are fewer)."""
        start = max(len(self.times) - max(count, 0), 0)
        return BarBlock(self.symbols, self.times[start:], self.values[:, :, start:], self.timeframe)

    def take(self, symbols: Sequence[str]) -> BarBlock:
        """The rows of ``symbols``, in that order."""
        rows = [self._rows[s] for s in symbols]
        return BarBlock(tuple(symbols), self.times, self.values[:, rows, :], self.timeframe)

    def problems(self) -> dict[str, str]:
        """What is wrong with each bad row, by symbol (empty when every row keeps the
        contract): a price that is not finite and positive, a volume that is negative or
        not finite, a high below the open or close, a low above them. Vectorised."""
        o, h, lo, c, v = self.values
        with np.errstate(invalid="ignore"):
            prices = self.values[:4]
            bad_price = ~(np.isfinite(prices) & (prices > 0))
            bad_volume = ~(np.isfinite(v) & (v >= 0))
            bad_high = h < np.maximum(o, c)
            bad_low = lo > np.minimum(o, c)
        checks = (
            (bad_price.any(axis=0), "a price is not a finite number > 0"),
            (bad_volume, "volume is negative or not finite"),
            (bad_high, "high is below the open or the close"),
            (bad_low, "low is above the open or the close"),
        )
        problems: dict[str, str] = {}
        for mask, message in checks:
            rows, bars = np.nonzero(mask)
            for row, bar in zip(rows.tolist(), bars.tolist(), strict=True):
                symbol = self.symbols[row]
                if symbol not in problems:
                    at = pd.Timestamp(int(self.times[bar]), unit="ns", tz="UTC")
                    problems[symbol] = f"{symbol} bar at {at.isoformat()}: {message}"
        return problems

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], timeframe: str) -> list[BarBlock]:
        """Blocks of the symbols whose (non-empty) frames share one index, in first-seen
        order of their symbols."""
        groups: dict[bytes, list[str]] = {}
        keys: dict[int, bytes] = {}  # by index object: a source's frames often share one
        for symbol, frame in frames.items():
            if len(frame):
                key = keys.get(id(frame.index))
                if key is None:
                    key = keys[id(frame.index)] = _index_ns(frame.index).tobytes()
                groups.setdefault(key, []).append(symbol)
        blocks = []
        for symbols in groups.values():
            times = _index_ns(frames[symbols[0]].index)
            values = np.empty((len(BAR_COLUMNS), len(symbols), len(times)))
            for row, symbol in enumerate(symbols):
                frame = frames[symbol]
                if tuple(frame.columns) == BAR_COLUMNS:  # one array, not five columns
                    values[:, row] = frame.to_numpy(dtype=np.float64).T
                else:
                    for i, name in enumerate(BAR_COLUMNS):
                        values[i, row] = frame[name].to_numpy(dtype=np.float64)
            blocks.append(cls(tuple(symbols), times, values, timeframe))
        return blocks


@dataclass(frozen=True)
class BlockRead:
    """What :func:`read_blocks` found: blocks of good bars, and the symbols it skipped
    with the reason (bad bars, none closed yet)."""

    blocks: list[BarBlock]
    skipped: dict[str, str]

    @property
    def symbols(self) -> list[str]:
        """Every symbol with bars, block by block."""
        return [s for block in self.blocks for s in block.symbols]

    def frames(self) -> Mapping[str, pd.DataFrame]:
        """Every symbol's Bars frame, each made the first time it is looked up."""
        return _LazyFrames(self.blocks)


def read_blocks(
    market: Any,
    symbols: Iterable[str],
    timeframe: str,
    *,
    limit: int,
    end: datetime | None = None,
) -> BlockRead:
    """The last ``limit`` closed bars of ``symbols`` from ``market`` as blocks.

    A symbol whose bars are bad (or that has no closed bar) is skipped with the reason
    and the others go on; a :class:`~components.errors.TemporaryError` (the source is
    unreachable) propagates. Sources with their own ``bars_block`` are asked through it.

    Example: ``read_blocks(market, ["BTC/USDT", "ETH/USDT"], "1h", limit=500)``.
    """
    names = list(symbols)
    own = getattr(market, "bars_block", None)
    if own is not None:
        read: BlockRead = own(names, timeframe, limit=limit, end=end)
        return _checked(read)
    return _checked(frames_to_blocks(market, names, timeframe, limit=limit, end=end))


def frames_to_blocks(
    market: Any, symbols: list[str], timeframe: str, *, limit: int, end: datetime | None
) -> BlockRead:
    """The default way to read blocks: ``bars_many`` for all (or ``bars`` one symbol at a
    time when one is bad), each frame validated, frames grouped by their index."""
    source = type(market).__name__
    frames: dict[str, pd.DataFrame] = {}
    skipped: dict[str, str] = {}
    try:  # one call for all; if one symbol is bad, fall back to one call each
        fetched = market.bars_many(symbols, timeframe, limit=limit, end=end)
    except DataError:
        fetched = {}
    for symbol in symbols:
        try:
            frame = fetched.get(symbol)
            if frame is None:
                frame = market.bars(symbol, timeframe, limit=limit, end=end)
            frame = validate_bars(frame, symbol=symbol, source=source, timeframe=timeframe)
        except TemporaryError:
            raise
        except QuantumTraderError as exc:
            skipped[symbol] = str(exc)
            continue
        if frame.empty:
            skipped[symbol] = "no closed bars"
        else:
            frames[symbol] = frame
    return BlockRead(BarBlock.from_frames(frames, timeframe), skipped)


def _checked(read: BlockRead) -> BlockRead:
    """``read`` without the rows that break the contract (each skipped with its reason)."""
    skipped = dict(read.skipped)
    blocks = []
    for block in read.blocks:
        problems = {} if block.checked else block.problems()
        if problems:
            skipped.update(problems)
            block = block.take([s for s in block.symbols if s not in problems])
        if block.symbols and len(block):
            blocks.append(block)
        else:
            skipped.update({s: "no closed bars" for s in block.symbols})
    return BlockRead(blocks, skipped)


def _index_ns(index: pd.Index) -> npt.NDArray[np.int64]:
    """A tz-aware DatetimeIndex as int64 nanoseconds since the epoch (UTC)."""
    return np.asarray(pd.DatetimeIndex(index).as_unit("ns").asi8, dtype=np.int64)


class _LazyFrames(Mapping[str, pd.DataFrame]):
    def __init__(self, blocks: list[BarBlock]) -> None:
        self._blocks = {s: block for block in blocks for s in block.symbols}
        self._made: dict[str, pd.DataFrame] = {}

    def __getitem__(self, symbol: str) -> pd.DataFrame:
        if symbol not in self._made:
            self._made[symbol] = self._blocks[symbol].frame(symbol)
        return self._made[symbol]

    def __iter__(self) -> Any:
        return iter(self._blocks)

    def __len__(self) -> int:
        return len(self._blocks)
