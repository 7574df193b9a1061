"""Download an exchange's history into the BarStore, resuming where the store ends.

    exchange = ccxt_exchange_class("binance", purpose="data download")({"enableRateLimit": True})
    report = download_bars(exchange, store, "BTC/USDT", "1h", since=start, until=end,
                           progress=lambda done, total: ...)

Pages through ``fetch_ohlcv`` (ccxt's rate limiter paces the requests) from the newest bar
the store already has, or from ``since``; each page is written to the store before the next
is asked for, so an interrupted download loses at most one page and the next call resumes
after the last stored bar. Only closed bars (closing at or before ``until``) are kept; gaps
the exchange has (outages) stay gaps, reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from components.errors import ConfigurationError, DataError, TemporaryError
from components.market.base import BAR_COLUMNS, CALENDAR_TIMEFRAMES
from components.market.ccxt_market import is_temporary
from components.market.store import BarStore
from components.market.validation import GapReport, bar_closes, find_gaps, timeframe_delta

Progress = Callable[[int, int], None]
"""Called after each page with (bars stored so far in this download, bars expected)."""


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What :func:`download_bars` did: ``resumed_from`` (the last bar stored before, when it
    resumed), ``added`` bars, ``requests`` made, and the stored series' ``gaps``."""

    symbol: str
    timeframe: str
    resumed_from: pd.Timestamp | None
    added: int
    stored: int
    requests: int
    gaps: GapReport


def download_bars(
    exchange: Any,
    store: BarStore,
    symbol: str,
    timeframe: str,
    *,
    since: datetime,
    until: datetime,
    page_size: int = 1_000,
    progress: Progress | None = None,
    max_requests: int = 100_000,
) -> DownloadReport:
    """Fetch ``symbol``'s ``timeframe`` bars from ``since`` (or after the store's last bar)
    to ``until`` into ``store`` (module docstring).

    Raises
    ------
    TemporaryError
        The exchange is unreachable or rate-limiting; what was stored stays, a new call
        resumes.
    DataError
        The exchange refused the request or sent bars that break the contract.
    ConfigurationError
        ``since`` is not before ``until``, or an unknown timeframe.
    """
    timeframe_delta(timeframe)
    start, stop = pd.Timestamp(since), pd.Timestamp(until)
    if start.tzinfo is None or stop.tzinfo is None:
        raise ConfigurationError("since and until need a time zone (UTC)")
    if start >= stop:
        raise ConfigurationError(f"since {start} must be before until {stop}")
    last = store.last_open(symbol, timeframe)
    cursor = start if last is None or last < start else _next_open(last, timeframe)
    expected = max(_bars_between(cursor, stop, timeframe), 0)
    added = requests = 0
    if progress is not None:
        progress(0, expected)
    while cursor < stop and requests < max_requests:
        requests += 1
        rows = _fetch(exchange, symbol, timeframe, int(cursor.value // 1_000_000), page_size)
        frame = _closed(_frame(rows), timeframe, stop)
        frame = frame[frame.index >= cursor]
        if frame.empty:
            break
        before = store.read(symbol, timeframe)
        stored = store.write(symbol, timeframe, frame)
        added += len(stored) - (0 if before is None else len(before))
        if progress is not None:
            progress(min(added, expected), expected)
        cursor = _next_open(frame.index[-1], timeframe)
    stored_bars = store.read(symbol, timeframe)
    final = stored_bars if stored_bars is not None else pd.DataFrame(columns=list(BAR_COLUMNS))
    return DownloadReport(
        symbol=symbol,
        timeframe=timeframe,
        resumed_from=last,
        added=added,
        stored=len(final),
        requests=requests,
        gaps=find_gaps(final, timeframe),
    )


def _fetch(exchange: Any, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[Any]:
    try:
        rows = exchange.fetch_ohlcv(symbol, timeframe, since_ms, limit)
    except Exception as exc:
        name = getattr(exchange, "id", "exchange")
        what = f"{name}: cannot fetch {timeframe} bars of {symbol}: {type(exc).__name__}"
        if is_temporary(exc):
            raise TemporaryError(f"{what}; run the download again to resume") from None
        raise DataError(f"{what}: {str(exc)[:300]}") from None
    if not isinstance(rows, list):
        raise DataError(f"fetch_ohlcv gave {type(rows).__name__}, not a list of bars")
    return rows


def _frame(rows: list[Any]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=list(BAR_COLUMNS), index=pd.DatetimeIndex([], tz="UTC"))
    values = np.asarray([row[:6] for row in rows], dtype=np.float64)
    index = pd.DatetimeIndex(values[:, 0].astype(np.int64) * 1_000_000, tz="UTC", name="timestamp")
    return pd.DataFrame(values[:, 1:], index=index.as_unit("us"), columns=list(BAR_COLUMNS))


def _closed(frame: pd.DataFrame, timeframe: str, until: pd.Timestamp) -> pd.DataFrame:
    """The bars of ``frame`` that closed by ``until`` (the exchange's running candle not)."""
    if frame.empty:
        return frame
    closes = bar_closes(pd.DatetimeIndex(frame.index), timeframe)
    return frame[np.asarray(closes <= until)]


def _next_open(last: pd.Timestamp, timeframe: str) -> pd.Timestamp:
    return pd.Timestamp(bar_closes(pd.DatetimeIndex([last]), timeframe)[0])


def _bars_between(start: pd.Timestamp, stop: pd.Timestamp, timeframe: str) -> int:
    if timeframe in CALENDAR_TIMEFRAMES:
        return (stop.year - start.year) * 12 + stop.month - start.month
    return int((stop - start) / timeframe_delta(timeframe))
