"""FileMarket: replay a folder of OHLCV files (Freqtrade, Binance klines, plain tables).

Layouts it reads, by file name::

    BTC_USDT-1h.feather           Freqtrade (also .parquet, .csv, .json, .json.gz);
    BTC_USDT_USDT-1h-futures.feather   date/open/high/low/close/volume, date tz-aware or
                                  epoch ms; ``_USDT`` suffix = futures, "BTC/USDT:USDT"
    BTCUSDT-1h-2024-01.csv        Binance klines (data.binance.vision; also .zip): 12
    BTCUSDT-1h-2024-02.csv        columns, usually no header, open time in ms (us in
                                  2025+ files); several files of one symbol are joined
    ETH_USDT.parquet              a plain table with a timestamp/date/time column (or a
                                  DatetimeIndex); the timeframe is read from the spacing

Symbols come from the names: ``BTC_USDT`` -> ``BTC/USDT``; ``BTCUSDT`` -> ``BTC/USDT``
when it ends in a known quote currency. Naive times are taken as UTC (with a
:class:`~components.market.validation.NaiveTimeWarning`); epoch numbers may be in s, ms,
us or ns (told apart by size). Every file is validated when the market is built; a bad one
raises :class:`~components.errors.DataError` naming the file and its first bad row (0-based
among the data rows). Gaps (weekends, outages) are kept as they are by default
(``gaps="allow"``): no bar is invented.

The market *replays*: ``bars()`` only shows bars closed by its clock's ``now()``. The
default clock stands at the close of the last bar in the folder; pass a
:class:`~components.clock.SimulatedClock` to replay from an earlier start.
Coarser timeframes are aggregated from finer files when needed (4h from 1h, 1M from 1d,
...); a coarse bar is built from the finer bars that exist in its period (a period with
none has no bar), and a period the data only partly covers at either end is dropped.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from components.clock import Clock, ManualClock, as_utc
from components.errors import ConfigurationError, DataError
from components.market.base import (
    BAR_COLUMNS,
    CALENDAR_TIMEFRAMES,
    TIMEFRAMES,
    MarketData,
    Ticker,
)
from components.market.block import BarBlock, BlockRead
from components.market.validation import (
    BarProblem,
    GapPolicy,
    NaiveTimeWarning,
    bar_closes,
    find_bar_problem,
    format_timestamp,
    infer_timeframe,
    timeframe_delta,
    validate_bars,
)

KNOWN_QUOTES: tuple[str, ...] = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "BTC",
    "ETH",
    "BNB",
    "EUR",
    "TRY",
)
"""Quote currencies recognised at the end of a joined name such as ``BTCUSDT``."""

_EXTENSIONS = (".csv.gz", ".json.gz", ".csv", ".zip", ".parquet", ".feather", ".json")
_TIME_COLUMNS = ("timestamp", "date", "datetime", "time", "open_time", "opentime", "open time")
_SKIPPED_KINDS = {"mark", "index", "premiumindex", "funding_rate", "trades"}
_TIMEFRAME = re.compile(r"^\d+[smhdwMy]$")
_DATE_PART = re.compile(r"^\d{2,4}$")
_US = 1_000  # ns per microsecond


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file in the folder that is not market bars, and why it was left out."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class _FileName:
    symbol: str
    timeframe: str | None


def symbol_from_name(name: str) -> str:
    """The symbol a file-name stem stands for.

    Example: ``symbol_from_name("BTC_USDT") == symbol_from_name("BTCUSDT") == "BTC/USDT"``;
    ``"BTC_USDT_USDT"`` (Freqtrade futures) gives ``"BTC/USDT:USDT"``. A joined name with no
    known quote at its end is returned as it is.
    """
    parts = name.split("_")
    if len(parts) == 2 and all(parts):
        return f"{parts[0]}/{parts[1]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[0]}/{parts[1]}:{parts[2]}"
    upper = name.upper()
    for quote in sorted(KNOWN_QUOTES, key=len, reverse=True):
        if upper.endswith(quote) and len(upper) > len(quote):
            return f"{upper[: -len(quote)]}/{quote}"
    return name


def _parse_name(path: Path) -> _FileName | str:
    """The symbol and timeframe a file name gives, or why the file is not bars."""
    lower = path.name.lower()
    extension = next((e for e in _EXTENSIONS if lower.endswith(e)), None)
    if extension is None or path.name.startswith("."):
        return "not a data file (.csv, .zip, .parquet, .feather, .json)"
    parts = path.name[: -len(extension)].split("-")
    if not parts[0]:
        return "no symbol in the file name"
    rest = parts[1:]
    timeframe = None
    if rest and _TIMEFRAME.match(rest[0]):
        timeframe = rest.pop(0)
        if timeframe not in TIMEFRAMES:
            return f"timeframe {timeframe} is not one of {', '.join(TIMEFRAMES)}"
    if rest and rest[0].lower() in _SKIPPED_KINDS:
        return f"{rest[0]} data, not the traded market's bars"
    if rest and rest[0].lower() in ("spot", "futures"):
        rest.pop(0)
    if rest and not all(_DATE_PART.match(p) for p in rest):  # Binance: -2024-01[-15]
        return f"cannot read {'-'.join(rest)!r} in the file name"
    return _FileName(symbol_from_name(parts[0]), timeframe)


@dataclass(frozen=True, slots=True)
class _Loaded:
    path: Path
    timeframe: str
    bars: pd.DataFrame


class FileMarket(MarketData):
    """Bars and tickers replayed from a folder of OHLCV files; a ``MarketData``.

    Example: ``FileMarket("user_data/data/binance").bars("BTC/USDT", "1h", limit=500)``.

    Parameters
    ----------
    folder:
        The folder to read (not its subfolders). See the module docstring for the layouts.
    clock:
        Decides which bars are closed; default a :class:`ManualClock` at the close of the
        last bar in the folder.
    spread_bps:
        Bid/ask spread of the tickers, in basis points (files carry no order book).
    timeframes:
        Read only files of these timeframes (default all).
    gaps:
        Missing bars in a file: ``allow`` (default: kept as gaps), ``refuse`` or ``ffill``
        (see :data:`~components.market.validation.GapPolicy`).

    Raises
    ------
    ConfigurationError
        The folder does not exist, holds no bars, or an argument is out of range.
    DataError
        A file cannot be read or breaks the bars contract (named, with its first bad row),
        or two files of one symbol overlap.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        clock: Clock | None = None,
        spread_bps: float = 5.0,
        timeframes: Iterable[str] | None = None,
        gaps: GapPolicy = "allow",
    ) -> None:
        self._folder = Path(folder)
        self._gaps: GapPolicy = gaps
        self.source = str(self._folder)
        if not self._folder.is_dir():
            raise ConfigurationError(f"market data folder {self._folder} does not exist")
        if not 0 <= spread_bps <= 10_000:
            raise ConfigurationError(f"spread_bps must be in [0, 10000], got {spread_bps}")
        wanted = set(TIMEFRAMES) if timeframes is None else set(timeframes)
        for timeframe in wanted:
            timeframe_delta(timeframe)  # raises on an unknown one
        self._spread_bps = float(spread_bps)
        skipped: list[SkippedFile] = []
        groups: dict[tuple[str, str], list[_Loaded]] = {}
        for path in sorted(p for p in self._folder.iterdir() if p.is_file()):
            name = _parse_name(path)
            if isinstance(name, str):
                skipped.append(SkippedFile(path, name))
                continue
            if name.timeframe is not None and name.timeframe not in wanted:
                skipped.append(SkippedFile(path, f"timeframe {name.timeframe} not asked for"))
                continue
            loaded = _load_file(path, name, gaps)
            if loaded.timeframe not in wanted:
                skipped.append(SkippedFile(path, f"timeframe {loaded.timeframe} not asked for"))
                continue
            groups.setdefault((name.symbol, loaded.timeframe), []).append(loaded)
        self._skipped = tuple(skipped)
        self._native: dict[tuple[str, str], pd.DataFrame] = {
            key: _join(key[0], files, gaps) for key, files in groups.items()
        }
        if not self._native:
            raise ConfigurationError(
                f"no OHLCV files in {self._folder}; expected names like BTC_USDT-1h.feather "
                "or BTCUSDT-1h-2024-01.csv"
            )
        self._derived: dict[tuple[str, str], pd.DataFrame] = {}
        self._kept_arrays: dict[tuple[str, str], tuple[pd.DataFrame, np.ndarray, np.ndarray]] = {}
        self._symbols = sorted({symbol for symbol, _ in self._native})
        if clock is None:
            last_close = max(
                (
                    bar_closes(cast(pd.DatetimeIndex, frame.index[-1:]), tf)[0]
                    for (_, tf), frame in self._native.items()
                    if len(frame)
                ),
                default=None,
            )
            if last_close is None:
                raise ConfigurationError(f"the files in {self._folder} hold no bars")
            clock = ManualClock(last_close.to_pydatetime())
        self._clock: Clock = clock

    def __repr__(self) -> str:
        return f"FileMarket({str(self._folder)!r}, symbols={len(self._symbols)})"

    @property
    def skipped(self) -> tuple[SkippedFile, ...]:
        """Files in the folder that were not read, each with the reason."""
        return self._skipped

    # --- the MarketData protocol ----------------------------------------------------------

    def symbols(self) -> list[str]:
        """Every symbol with at least one file, sorted."""
        return list(self._symbols)

    @property
    def clock(self) -> Clock:
        """The clock replay follows (a manual one can be advanced)."""
        return self._clock

    def now(self) -> datetime:
        """The replay clock's time."""
        return self._clock.now()

    def timeframes(self, symbol: str) -> list[str]:
        """The timeframes :meth:`bars` can give for ``symbol`` (from files or aggregated)."""
        self._check_symbol(symbol)
        return [tf for tf in TIMEFRAMES if self._source_timeframe(symbol, tf) is not None]

    def bars(
        self, symbol: str, timeframe: str = "1h", *, limit: int = 500, end: datetime | None = None
    ) -> pd.DataFrame:
        """The last ``limit`` bars of ``symbol`` closed at or before ``end`` (<= ``now()``).

        Example: ``market.bars("BTC/USDT", "4h", limit=100)``.

        Raises
        ------
        ConfigurationError
            Unknown symbol, a timeframe the files cannot give, ``limit`` < 1, naive ``end``.
        """
        frame = self._frame(symbol, timeframe)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an integer >= 1, got {limit!r}")
        stop = _closed_by(frame, timeframe, self._cap_us(end))
        return frame.iloc[max(stop - limit, 0) : stop]

    def bars_block(
        self,
        symbols: Iterable[str],
        timeframe: str = "1h",
        *,
        limit: int = 500,
        end: datetime | None = None,
    ) -> BlockRead:
        """:meth:`bars` of many symbols as blocks, without a DataFrame per symbol: the
        windows of symbols whose bars open at the same times form one block (files of one
        exchange usually share them; a gap splits a symbol off). The files' bars were
        checked when loaded, so the blocks are not checked again.

        Example: ``market.bars_block(market.symbols(), "1h", limit=500).blocks``.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an integer >= 1, got {limit!r}")
        at = self._cap_us(end)
        groups: dict[tuple[int, int, int], list[list[tuple[str, np.ndarray, np.ndarray]]]] = {}
        skipped: dict[str, str] = {}
        for symbol in symbols:
            try:
                frame = self._frame(symbol, timeframe)
            except ConfigurationError as exc:
                skipped[symbol] = str(exc)
                continue
            stop = _closed_by(frame, timeframe, at)
            start = max(stop - limit, 0)
            if stop == start:
                skipped[symbol] = "no closed bars"
                continue
            all_times, all_values = self._arrays(symbol, timeframe, frame)
            times, values = all_times[start:stop], all_values[start:stop]
            alike = groups.setdefault((len(times), int(times[0]), int(times[-1])), [])
            group = next((g for g in alike if np.array_equal(g[0][1], times)), None)
            if group is None:  # the same ends but other times inside: a gap
                group = []
                alike.append(group)
            group.append((symbol, times, values))
        blocks = [
            BarBlock(
                tuple(symbol for symbol, _, _ in group),
                group[0][1] * _US,
                np.stack([values.T for _, _, values in group], axis=1),
                timeframe,
                checked=True,
            )
            for alike in groups.values()
            for group in alike
        ]
        return BlockRead(blocks, skipped)

    def bar_opens(self, symbols: Iterable[str], timeframe: str, at: datetime) -> dict[str, float]:
        """The open of each symbol's ``timeframe`` bar opening at ``at`` once the replay clock
        has reached ``at``: only the open of that row is read, the rest of the bar is still
        to come. Symbols whose files have no bar at ``at`` are left out.

        Example: ``market.bar_opens(["BTC/USDT"], "1h", at)``.
        """
        at_us = int(pd.Timestamp(as_utc(at, name="at")).value // _US)
        if at_us > self._cap_us(None):
            return {}
        opens: dict[str, float] = {}
        for symbol in symbols:
            frame = self._frame(symbol, timeframe)
            times, values = self._arrays(symbol, timeframe, frame)
            row = int(np.searchsorted(times, at_us))
            if row < len(times) and int(times[row]) == at_us:
                opens[symbol] = float(values[row, 0])
        return opens

    def _arrays(
        self, symbol: str, timeframe: str, frame: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """``frame``'s open times (us) and (bars, 5) values, kept while it is the frame."""
        kept = self._kept_arrays.get((symbol, timeframe))
        if kept is None or kept[0] is not frame:
            values = frame[list(BAR_COLUMNS)].to_numpy(dtype=np.float64)
            kept = self._kept_arrays[(symbol, timeframe)] = (frame, _stamps(frame), values)
        return kept[1], kept[2]

    def ticker(self, symbol: str, *, at: datetime | None = None) -> Ticker:
        """A ticker derived from the finest bars of ``symbol`` at ``at`` (<= ``now()``).

        Example: ``market.ticker("BTC/USDT").quote_volume_24h``.

        ``last`` is the close of the last closed bar, ``quote_volume_24h`` the sum of
        ``volume * close`` over the bars closed within the 24 hours before ``at``, and bid
        and ask sit ``spread_bps / 2`` either side of ``last``.

        Raises
        ------
        DataError
            If no bar of ``symbol`` has closed by ``at``.
        """
        self._check_symbol(symbol)
        timeframe = min(
            (tf for tf in TIMEFRAMES if (symbol, tf) in self._native), key=lambda tf: TIMEFRAMES[tf]
        )
        frame = self._native[(symbol, timeframe)]
        at_us = self._cap_us(at)
        stamps = _stamps(frame)
        stop = _closed_by(frame, timeframe, at_us)
        if stop == 0:
            raise DataError(
                f"{symbol} in {self._folder}: no {timeframe} bar closed by "
                f"{format_timestamp(pd.Timestamp(at_us, unit='us', tz='UTC'))}"
            )
        start = int(np.searchsorted(stamps, at_us - 86_400_000_000, side="left"))
        window = frame.iloc[start:stop]
        last = float(frame["close"].iloc[stop - 1])
        half = last * self._spread_bps / 20_000
        return Ticker(
            symbol=symbol,
            at=pd.Timestamp(at_us, unit="us", tz="UTC").to_pydatetime(),
            last=last,
            bid=last - half,
            ask=last + half,
            quote_volume_24h=float((window["volume"] * window["close"]).sum()),
        )

    def tickers(
        self, symbols: Iterable[str] | None = None, *, at: datetime | None = None
    ) -> dict[str, Ticker]:
        """:meth:`ticker` for many symbols (default all), keyed by symbol."""
        names = self._symbols if symbols is None else list(symbols)
        return {s: self.ticker(s, at=at) for s in names}

    def span(self, symbol: str, timeframe: str = "1h") -> tuple[datetime, datetime]:
        """The open time of the first bar and the close time of the last, e.g. to pick a
        replay start: ``SimulatedClock(market.span("BTC/USDT")[0], speed=3600)``."""
        frame = self._frame(symbol, timeframe)
        if len(frame) == 0:
            raise DataError(f"{symbol} in {self._folder}: no complete {timeframe} bars")
        last_close = bar_closes(cast(pd.DatetimeIndex, frame.index[-1:]), timeframe)[0]
        return frame.index[0].to_pydatetime(), last_close.to_pydatetime()

    # --- internals ------------------------------------------------------------------------

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._symbols:
            shown = ", ".join(self._symbols[:5]) + (", ..." if len(self._symbols) > 5 else "")
            raise ConfigurationError(f"no files for {symbol!r} in {self._folder}; it has {shown}")

    def _cap_us(self, t: datetime | None) -> int:
        now = pd.Timestamp(as_utc(self._clock.now(), name="clock.now()")).value // _US
        if t is None:
            return int(now)
        return int(min(pd.Timestamp(as_utc(t, name="end")).value // _US, now))

    def _source_timeframe(self, symbol: str, timeframe: str) -> str | None:
        """The file timeframe to serve ``timeframe`` from: itself, or the coarsest finer one
        that divides it."""
        if (symbol, timeframe) in self._native:
            return timeframe
        finer = [tf for tf in TIMEFRAMES if (symbol, tf) in self._native and divides(tf, timeframe)]
        return max(finer, key=lambda tf: TIMEFRAMES[tf]) if finer else None

    def _frame(self, symbol: str, timeframe: str) -> pd.DataFrame:
        self._check_symbol(symbol)
        timeframe_delta(timeframe)
        source = self._source_timeframe(symbol, timeframe)
        if source is None:
            have = ", ".join(tf for tf in TIMEFRAMES if (symbol, tf) in self._native)
            raise ConfigurationError(
                f"{symbol} has no {timeframe} bars in {self._folder} (files: {have}) and none "
                f"finer that add up to {timeframe}"
            )
        if source == timeframe:
            return self._native[(symbol, timeframe)]
        key = (symbol, timeframe)
        if key not in self._derived:
            self._derived[key] = aggregate(self._native[(symbol, source)], source, timeframe)
        return self._derived[key]


def _stamps(frame: pd.DataFrame) -> np.ndarray:
    """Open times in microseconds since the epoch (every frame here has a us index)."""
    return cast(pd.DatetimeIndex, frame.index).asi8


def _closed_by(frame: pd.DataFrame, timeframe: str, at_us: int) -> int:
    """How many leading bars of ``frame`` have closed by ``at_us``."""
    if timeframe in CALENDAR_TIMEFRAMES:
        closes = bar_closes(cast(pd.DatetimeIndex, frame.index), timeframe).asi8
        return int(np.searchsorted(closes, at_us, side="right"))
    step_us = timeframe_delta(timeframe).value // _US
    return int(np.searchsorted(_stamps(frame), at_us - step_us, side="right"))


def divides(finer: str, coarser: str) -> bool:
    """Whether whole bars of ``finer`` tile each bar of ``coarser`` (``1h`` into ``4h``,
    ``1d`` into ``1M``; not ``1w`` into ``1M``). Example: ``divides("1h", "4h")``."""
    small, large = TIMEFRAMES[finer], TIMEFRAMES[coarser]
    if finer == coarser or small >= large or finer in CALENDAR_TIMEFRAMES:
        return False
    if coarser in CALENDAR_TIMEFRAMES:  # a month is whole days
        return pd.Timedelta(days=1) % pd.Timedelta(small) == pd.Timedelta(0)
    return pd.Timedelta(large) % pd.Timedelta(small) == pd.Timedelta(0)


_MONDAY_US = 4 * 86_400_000_000  # 1970-01-01 was a Thursday; weekly bars open on Mondays


def _period_starts(index: pd.DatetimeIndex, timeframe: str) -> np.ndarray:
    """The open time (us) of the ``timeframe`` bar each time of ``index`` falls in."""
    stamps = index.as_unit("us").asi8
    if timeframe in CALENDAR_TIMEFRAMES:
        return stamps.astype("M8[us]").astype("M8[M]").astype("M8[us]").astype(np.int64)
    step = timeframe_delta(timeframe).value // _US
    offset = _MONDAY_US if timeframe == "1w" else 0
    return (stamps - offset) // step * step + offset


def aggregate(frame: pd.DataFrame, source: str, timeframe: str) -> pd.DataFrame:
    """``timeframe`` bars built from the ``source`` bars of ``frame`` (see the module
    docstring): open of the first, highest high, lowest low, close of the last, summed
    volume of the finer bars in each period; periods the data covers only partly at its
    start or end are dropped, periods with a gap inside are kept. Vectorised.

    Example: ``aggregate(hourly, "1h", "1d")``.
    """
    if len(frame) == 0:
        return frame.iloc[:0]
    index = cast(pd.DatetimeIndex, frame.index)
    starts = _period_starts(index, timeframe)
    first_of = np.flatnonzero(np.concatenate(([True], starts[1:] != starts[:-1])))
    last_of = np.concatenate((first_of[1:] - 1, [len(starts) - 1]))
    values = frame.to_numpy(dtype=np.float64)
    out = np.column_stack(
        [
            values[first_of, 0],
            np.maximum.reduceat(values[:, 1], first_of),
            np.minimum.reduceat(values[:, 2], first_of),
            values[last_of, 3],
            np.add.reduceat(values[:, 4], first_of),
        ]
    )
    period_index = pd.DatetimeIndex(starts[first_of].astype("M8[us]"), tz="UTC", name="timestamp")
    keep = np.ones(len(first_of), dtype=np.bool_)
    keep[0] = starts[0] == index.asi8[0]  # the data starts with the period
    finer_closes = bar_closes(index[last_of[-1:]], source).asi8
    period_close = bar_closes(period_index[-1:], timeframe).asi8
    keep[-1] &= bool(finer_closes[0] == period_close[0])  # ... and ends with it
    return pd.DataFrame(out[keep], index=period_index[keep], columns=list(BAR_COLUMNS))


def _join(symbol: str, files: list[_Loaded], gaps: GapPolicy = "allow") -> pd.DataFrame:
    """One frame from the files of one symbol and timeframe, checked where they meet."""
    if len(files) == 1:
        return files[0].bars
    nonempty = sorted((f for f in files if len(f.bars)), key=lambda f: f.bars.index[0])
    if len(nonempty) < 2:
        return nonempty[0].bars if nonempty else files[0].bars
    files = nonempty
    for before, after in itertools.pairwise(files):
        if after.bars.index[0] <= before.bars.index[-1]:
            raise DataError(
                f"{symbol}: {after.path} overlaps {before.path} (both have bars at "
                f"{format_timestamp(after.bars.index[0])}); keep one of them"
            )
    joined = pd.concat([f.bars for f in files])
    problem = find_bar_problem(joined, timeframe=files[0].timeframe, gaps=gaps)
    if problem is not None and problem.row is not None:
        # Point at the file and row where the joined series breaks (a gap between files).
        offset = 0
        for f in files:
            if problem.row < offset + len(f.bars):
                local = BarProblem(problem.row - offset, problem.timestamp, problem.message)
                raise DataError(local.describe(symbol, str(f.path)))
            offset += len(f.bars)
    if problem is not None:
        raise DataError(problem.describe(symbol, ", ".join(str(f.path) for f in files)))
    if gaps == "ffill":
        return validate_bars(
            joined, symbol=symbol, source="", timeframe=files[0].timeframe, gaps=gaps
        )
    return joined


def _load_file(path: Path, name: _FileName, gaps: GapPolicy = "allow") -> _Loaded:
    """Read, normalise and validate one file."""
    try:
        raw = _read_table(path)
    except DataError:
        raise
    except Exception as exc:  # any reader failure: corrupt, truncated, wrong format
        raise DataError(f"{name.symbol} in {path}: cannot read the file ({exc})") from exc
    frame = _normalise(raw, path, name.symbol)
    timeframe = name.timeframe or infer_timeframe(
        frame.index,
        where=f"{name.symbol} in {path}",
        hint="put the timeframe in the file name, e.g. BTC_USDT-1h.csv",
    )
    bars = validate_bars(
        frame, symbol=name.symbol, source=str(path), timeframe=timeframe, gaps=gaps
    )
    return _Loaded(path, timeframe, bars)


@dataclass(frozen=True, slots=True)
class BarsFile:
    """One file read as bars: what :func:`load_bars_file` returns."""

    path: Path
    symbol: str
    timeframe: str
    bars: pd.DataFrame


def load_bars_file(
    path: str | Path,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    gaps: GapPolicy = "allow",
) -> BarsFile:
    """Read one OHLCV file of any layout the :class:`FileMarket` knows (module docstring),
    normalised to the bars contract (UTC) and validated.

    Example: ``load_bars_file("EURUSD_hourly.csv", symbol="EUR/USD").bars``.

    Parameters
    ----------
    path
        The file.
    symbol, timeframe
        Override what the file name says; needed when the name does not follow a known
        layout (the timeframe is otherwise read from the bars' spacing).
    gaps
        The gap policy (default ``allow``: gaps are kept, nothing invented).

    Raises
    ------
    ConfigurationError
        The file does not exist, or the name gives no symbol and none was passed.
    DataError
        The file cannot be read or breaks the bars contract (named, with its first bad row).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"no such file: {path}")
    if timeframe is not None:
        timeframe_delta(timeframe)  # raises on an unknown one
    parsed = _parse_name(path)
    if isinstance(parsed, str):
        if symbol is None:
            raise ConfigurationError(f"{path}: {parsed}; pass the symbol, e.g. --symbol EUR/USD")
        parsed = _FileName(symbol, None)
    name = _FileName(symbol or parsed.symbol, timeframe or parsed.timeframe)
    loaded = _load_file(path, name, gaps)
    return BarsFile(path, name.symbol, loaded.timeframe, loaded.bars)


def _read_table(path: Path) -> pd.DataFrame:
    lower = path.name.lower()
    if lower.endswith(".feather"):
        return pd.read_feather(path)
    if lower.endswith(".parquet"):
        return pd.read_parquet(path)
    if lower.endswith((".json", ".json.gz")):
        opener = gzip.open if lower.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            rows = json.load(handle)
        if not isinstance(rows, list):
            raise DataError(
                f"{path}: expected a JSON list of [time, open, high, low, close, volume]"
            )
        if rows and isinstance(rows[0], dict):
            return pd.DataFrame(rows)
        return pd.DataFrame(rows, columns=["date", *BAR_COLUMNS][: len(rows[0]) if rows else 6])
    # CSV (maybe zipped): Binance klines have no header and 12 columns; sniff the first row.
    first = pd.read_csv(path, header=None, nrows=1, dtype=str)
    headerless = first.shape[1] >= 6 and _is_number(str(first.iloc[0, 0]))
    if not headerless:
        return pd.read_csv(path)
    table = pd.read_csv(path, header=None)
    names = ["open_time", *BAR_COLUMNS]
    table.columns = names + [f"extra_{i}" for i in range(table.shape[1] - len(names))]
    return table


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _normalise(raw: pd.DataFrame, path: Path, symbol: str) -> pd.DataFrame:
    """A frame indexed by UTC open times, with lower-case OHLCV column names."""
    lower = {str(c).strip().lower(): c for c in raw.columns}
    time_column = next((lower[c] for c in _TIME_COLUMNS if c in lower), None)
    if time_column is not None:
        times = raw[time_column]
    elif isinstance(raw.index, pd.DatetimeIndex):
        times = raw.index.to_series()
    else:
        raise DataError(
            f"{symbol} in {path}: no time column; name one of {', '.join(_TIME_COLUMNS[:4])} "
            f"(columns are {', '.join(map(str, raw.columns))})"
        )
    index = _to_utc_index(times, path, symbol)
    columns = {c: raw[lower[c]].to_numpy() for c in BAR_COLUMNS if c in lower}
    return pd.DataFrame(columns, index=index)


def _to_utc_index(times: pd.Series, path: Path, symbol: str) -> pd.DatetimeIndex:
    """Open times as a UTC microsecond index; numbers are epoch s/ms/us/ns by size."""
    if pd.api.types.is_datetime64_any_dtype(times.dtype):
        index = pd.DatetimeIndex(times)
        if index.tz is None:
            _warn_naive(path, symbol)
            index = index.tz_localize("UTC")
        else:
            index = index.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(times.dtype):
        if pd.api.types.is_integer_dtype(times.dtype):
            numbers = times.to_numpy(dtype=np.int64)
        else:
            floats = times.to_numpy(dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(floats))
            if len(bad):
                raise DataError(f"{symbol} in {path} row {int(bad[0])}: the time is missing")
            numbers = np.round(floats).astype(np.int64)
        size = np.abs(numbers)
        # Epoch seconds, ms, us or ns, told apart by size (2024 is 1.7e9 s, 1.7e12 ms, ...),
        # per row, so Binance files of 2024 (ms) and 2025 (us) can sit side by side.
        to_ns = np.select([size < 10**11, size < 10**14, size < 10**17], [10**9, 10**6, 10**3], 1)
        index = pd.DatetimeIndex((numbers * to_ns).view("M8[ns]"), tz="UTC")
    else:
        try:  # one format for the whole column (fast), as written by most tools
            parsed = pd.to_datetime(times)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(times, utc=True, errors="coerce", format="mixed")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(parsed.dtype):
            _warn_naive(path, symbol)
            parsed = parsed.dt.tz_localize("UTC")
        else:  # mixed offsets: pandas leaves objects; read each as UTC
            parsed = pd.to_datetime(times, utc=True, errors="coerce", format="mixed")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{symbol} in {path} row {row}: cannot read the time {times.iloc[row]!r}"
            )
        index = pd.DatetimeIndex(parsed)
    return index.as_unit("us").rename("timestamp")


def _warn_naive(path: Path, symbol: str) -> None:
    warnings.warn(
        f"{symbol} in {path}: times have no time zone; read as UTC",
        NaiveTimeWarning,
        stacklevel=4,
    )
