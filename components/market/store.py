"""BarStore: the user's own market history, normalised, under ``QT_HOME/data``.

One parquet file per symbol and timeframe, named the way :class:`~components.market.FileMarket`
reads them (``BTC_USDT-1h.parquet``, ``BTC_USDT_USDT-1h.parquet`` for ``BTC/USDT:USDT``), with
bars in the contract layout (UTC open times, float64 OHLCV). So the store is also a market:
``FileMarket(store.root)`` replays it, and ``QT_MARKET_SOURCE=files`` trades on it::

    store = BarStore.under(settings.home)
    store.write("EUR/USD", "1h", bars)         # merged with what is there, atomically
    store.coverage()                            # first/last bar, bars, gaps of each file

Writes merge: bars at times the store already has are replaced by the new ones, others are
kept, and the result is validated (gaps allowed: they are reported, never filled) before
it replaces the file in one rename, so a failed write leaves the old file whole.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd

from components.market.files import load_bars_file
from components.market.validation import (
    GapPolicy,
    GapReport,
    find_gaps,
    timeframe_delta,
    validate_bars,
)

__all__ = ["BarStore", "Coverage", "Imported", "file_stem"]


def file_stem(symbol: str, timeframe: str) -> str:
    """The file name (without ``.parquet``) of ``symbol``'s ``timeframe`` bars.

    Example: ``file_stem("BTC/USDT:USDT", "1h") == "BTC_USDT_USDT-1h"``.
    """
    return f"{symbol.replace('/', '_').replace(':', '_')}-{timeframe}"


@dataclass(frozen=True, slots=True)
class Imported:
    """What :meth:`BarStore.import_file` did: ``bars`` read from ``source``, ``added`` new
    to the store (the rest replaced bars it had), ``stored`` in ``path`` now, and the
    gaps of the file's bars."""

    source: Path
    symbol: str
    timeframe: str
    path: Path
    bars: int
    added: int
    stored: int
    gaps: GapReport


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the store holds for one symbol and timeframe."""

    symbol: str
    timeframe: str
    path: Path
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    bars: int
    gaps: GapReport


class BarStore:
    """Normalised bars as parquet files in ``root`` (see the module docstring).

    Example: ``BarStore.under(Path(".quantum-trader")).read("BTC/USDT", "1h")``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def under(cls, home: str | Path) -> BarStore:
        """The store of a ``QT_HOME``: ``<home>/data``."""
        return cls(Path(home) / "data")

    def __repr__(self) -> str:
        return f"BarStore({str(self.root)!r})"

    def path(self, symbol: str, timeframe: str) -> Path:
        """Where ``symbol``'s ``timeframe`` bars are (or would be) kept."""
        timeframe_delta(timeframe)  # raises on an unknown one
        return self.root / f"{file_stem(symbol, timeframe)}.parquet"

    def read(self, symbol: str, timeframe: str) -> pd.DataFrame | None:
        """The stored bars of ``symbol`` at ``timeframe``, or ``None`` if there are none."""
        path = self.path(symbol, timeframe)
        if not path.exists():
            return None
        return load_bars_file(path, symbol=symbol, timeframe=timeframe).bars

    def write(self, symbol: str, timeframe: str, bars: pd.DataFrame) -> pd.DataFrame:
        """Merge ``bars`` into the stored ones (new bars win at equal times) and return
        what is stored now.

        Raises
        ------
        DataError
            The merged bars break the contract (e.g. a bar off the timeframe's spacing);
            nothing is written then.
        """
        path = self.path(symbol, timeframe)
        new = validate_bars(bars, symbol=symbol, source="import", timeframe=timeframe, gaps="allow")
        old = self.read(symbol, timeframe)
        if old is not None and len(old):
            kept = old[~old.index.isin(new.index)]
            merged = pd.concat([kept, new]).sort_index() if len(kept) else new
            merged = validate_bars(
                merged, symbol=symbol, source=str(path), timeframe=timeframe, gaps="allow"
            )
        else:
            merged = new
        self.root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.root, suffix=".parquet.tmp")
        os.close(handle)
        try:
            merged.to_parquet(temporary)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return merged

    def import_file(
        self,
        path: str | Path,
        *,
        symbol: str | None = None,
        timeframe: str | None = None,
        gaps: GapPolicy = "allow",
    ) -> Imported:
        """Read one file of any known layout (:func:`~components.market.files.load_bars_file`)
        and merge its bars into the store.

        Example: ``store.import_file("EURUSD-1h.csv", symbol="EUR/USD").gaps.describe()``.

        Raises
        ------
        ConfigurationError
            No such file, or no symbol in its name and none given.
        DataError
            The file breaks the bars contract (named, with its first bad row); with
            ``gaps="refuse"``, a gap. Nothing is written then.
        """
        loaded = load_bars_file(path, symbol=symbol, timeframe=timeframe, gaps=gaps)
        before = self.read(loaded.symbol, loaded.timeframe)
        stored = self.write(loaded.symbol, loaded.timeframe, loaded.bars)
        return Imported(
            source=loaded.path,
            symbol=loaded.symbol,
            timeframe=loaded.timeframe,
            path=self.path(loaded.symbol, loaded.timeframe),
            bars=len(loaded.bars),
            added=len(stored) - (0 if before is None else len(before)),
            stored=len(stored),
            gaps=find_gaps(loaded.bars, loaded.timeframe),
        )

    def last_open(self, symbol: str, timeframe: str) -> pd.Timestamp | None:
        """The open time of the newest stored bar (where a download resumes), or ``None``."""
        bars = self.read(symbol, timeframe)
        if bars is None or len(bars) == 0:
            return None
        return cast(pd.Timestamp, bars.index[-1])

    def coverage(self) -> list[Coverage]:
        """Every stored symbol and timeframe with its first and last bar, count and gaps,
        sorted by symbol then timeframe length."""
        if not self.root.is_dir():
            return []
        found: list[Coverage] = []
        for path in sorted(self.root.glob("*.parquet")):
            loaded = load_bars_file(path, timeframe=path.stem.rpartition("-")[2])
            bars = loaded.bars
            found.append(
                Coverage(
                    symbol=loaded.symbol,
                    timeframe=loaded.timeframe,
                    path=path,
                    first=cast(pd.Timestamp, bars.index[0]) if len(bars) else None,
                    last=cast(pd.Timestamp, bars.index[-1]) if len(bars) else None,
                    bars=len(bars),
                    gaps=find_gaps(bars, loaded.timeframe),
                )
            )
        return sorted(found, key=lambda c: (c.symbol, timeframe_delta(c.timeframe)))
