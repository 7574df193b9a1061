"""The market-data contract every source keeps.

Bars
    A ``pandas.DataFrame`` indexed by a tz-aware UTC ``DatetimeIndex`` named ``timestamp``
    (the bar's open time), strictly increasing, one timeframe apart (a calendar month for
    ``1M``) except across gaps where the market had no bars (real data has them: weekends
    of forex, exchange outages; see :mod:`components.market.validation`), with
    float64 columns ``open, high, low, close, volume`` (volume in base units). Only closed
    bars are returned: a bar whose close time is after ``end`` is never included.

Ticker
    A snapshot for one symbol: 24h quote volume, best bid and ask, last price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    from components.market.block import BlockRead

BAR_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

TIMEFRAMES: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "6h": timedelta(hours=6),
    "8h": timedelta(hours=8),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "1w": timedelta(weeks=1),
    "1M": timedelta(days=365 / 12),
}
"""Every timeframe, by the name exchanges use (ccxt's), with the length of one bar. ``1M``
is a calendar month: its bars open on the 1st of each month, so its length here is the
average month (twelve make a year), used only for rates such as bars per year."""

CALENDAR_TIMEFRAMES: frozenset[str] = frozenset({"1M"})
"""Timeframes whose bars are calendar periods of varying length, not a fixed step."""


@dataclass(frozen=True, slots=True)
class Ticker:
    """A market snapshot for one symbol at ``at``."""

    symbol: str
    at: datetime
    last: float
    bid: float
    ask: float
    quote_volume_24h: float

    @property
    def spread(self) -> float:
        """Relative bid/ask spread, ``(ask - bid) / mid``."""
        mid = (self.ask + self.bid) / 2
        return (self.ask - self.bid) / mid if mid > 0 else float("inf")


@runtime_checkable
class MarketData(Protocol):
    """Where bars and tickers come from: synthetic, files, or an exchange."""

    def symbols(self) -> list[str]:
        """Every symbol this source can give bars for."""
        ...

    def now(self) -> datetime:
        """The source's clock (simulated for synthetic and replayed data)."""
        ...

    def bars(
        self, symbol: str, timeframe: str = "1h", *, limit: int = 500, end: datetime | None = None
    ) -> pd.DataFrame:
        """The last ``limit`` closed bars of ``symbol`` ending at or before ``end``
        (default: ``now()``), validated per the contract above."""
        ...

    def ticker(self, symbol: str, *, at: datetime | None = None) -> Ticker:
        """The ticker snapshot of ``symbol`` at ``at`` (default: ``now()``)."""
        ...

    def bars_many(
        self,
        symbols: Iterable[str],
        timeframe: str = "1h",
        *,
        limit: int = 500,
        end: datetime | None = None,
    ) -> dict[str, pd.DataFrame]:
        """:meth:`bars` for many symbols, keyed by symbol (one call each, unless a source
        that inherits this protocol does better)."""
        return {s: self.bars(s, timeframe, limit=limit, end=end) for s in symbols}

    def bar_opens(self, symbols: Iterable[str], timeframe: str, at: datetime) -> dict[str, float]:
        """The open price of each symbol's ``timeframe`` bar that opens at ``at`` (the bar
        forming now), by symbol, once ``at`` has passed: the first price of the bar, known
        as soon as it opens, long before it closes. A symbol whose open is not known (yet)
        is left out; a source that cannot tell gives ``{}`` (the default), and orders then
        fill when the bar closes, at the same open."""
        return {}

    def bars_block(
        self,
        symbols: Iterable[str],
        timeframe: str = "1h",
        *,
        limit: int = 500,
        end: datetime | None = None,
    ) -> BlockRead:
        """:meth:`bars_many` as (symbols x time) blocks, one per shared index, skipping bad
        symbols with the reason (see :mod:`components.market.block`); a source that
        inherits this protocol may make them without a DataFrame per symbol."""
        from components.market.block import frames_to_blocks

        return frames_to_blocks(self, list(symbols), timeframe, limit=limit, end=end)
