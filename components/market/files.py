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
when it ends in a known quote currency. Naive times are taken as UTC; epoch numbers may be
in s, ms, us or ns (told apart by size). Every file is validated when the market is built;
a bad one raises :class:`~components.errors.DataError` naming the file and its first bad
row (0-based among the data rows).

The market *replays*: ``bars()`` only shows bars closed by its clock's ``now()``. The
default clock stands at the close of the last bar in the folder; pass a
:class:`~components.market.clock.SimulatedClock` to replay from an earlier start.
Coarser timeframes are aggregated from finer files when needed (4h from 1h, ...).
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from components.errors import ConfigurationError, DataError
from components.market.base import BAR_COLUMNS, TIMEFRAMES, MarketData, Ticker
from components.market.clock import Clock, ManualClock, as_utc
from components.market.validation import (
    BarProblem,
    find_bar_problem,
    format_timestamp,
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
    ) -> None:
        self._folder = Path(folder)
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
            loaded = _load_file(path, name)
            if loaded.timeframe not in wanted:
                skipped.append(SkippedFile(path, f"timeframe {loaded.timeframe} not asked for"))
                continue
            groups.setdefault((name.symbol, loaded.timeframe), []).append(loaded)
        self._skipped = tuple(skipped)
        self._native: dict[tuple[str, str], pd.DataFrame] = {
            key: _join(key[0], files) for key, files in groups.items()
        }
        if not self._native:
            raise ConfigurationError(
                f"no OHLCV files in {self._folder}; expected names like BTC_USDT-1h.feather "
                "or BTCUSDT-1h-2024-01.csv"
            )
        self._derived: dict[tuple[str, str], pd.DataFrame] = {}
        self._symbols = sorted({symbol for symbol, _ in self._native})
        if clock is None:
            last_close = max(
                (
                    frame.index[-1] + timeframe_delta(tf)
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
        step_us = timeframe_delta(timeframe).value // _US
        stop = int(np.searchsorted(_stamps(frame), self._cap_us(end) - step_us, side="right"))
        return frame.iloc[max(stop - limit, 0) : stop]

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
        step_us = timeframe_delta(timeframe).value // _US
        stamps = _stamps(frame)
        stop = int(np.searchsorted(stamps, at_us - step_us, side="right"))
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
        last_close = frame.index[-1] + timeframe_delta(timeframe)
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
        target = TIMEFRAMES[timeframe]
        finer = [
            tf
            for tf in TIMEFRAMES
            if (symbol, tf) in self._native
            and TIMEFRAMES[tf] < target
            and target % TIMEFRAMES[tf] == pd.Timedelta(0)
        ]
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
            self._derived[key] = _aggregate(self._native[(symbol, source)], timeframe)
        return self._derived[key]


def _stamps(frame: pd.DataFrame) -> np.ndarray:
    """Open times in microseconds since the epoch (every frame here has a us index)."""
    return cast(pd.DatetimeIndex, frame.index).asi8


def _aggregate(frame: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Complete ``timeframe`` bars from gap-free finer ``frame`` (partial ones are dropped)."""
    step = timeframe_delta(timeframe).value // _US
    stamps = _stamps(frame)
    per = int(step // (stamps[1] - stamps[0])) if len(stamps) > 1 else 0
    if per < 1:
        return frame.iloc[:0]
    aligned = np.flatnonzero(stamps % step == 0)
    start = int(aligned[0]) if len(aligned) else len(stamps)
    count = (len(stamps) - start) // per
    values = frame.to_numpy()[start : start + count * per].reshape(count, per, 5)
    out = np.column_stack(
        [
            values[:, 0, 0],
            values[:, :, 1].max(axis=1),
            values[:, :, 2].min(axis=1),
            values[:, -1, 3],
            values[:, :, 4].sum(axis=1),
        ]
    )
    return pd.DataFrame(
        out, index=frame.index[start : start + count * per : per], columns=list(BAR_COLUMNS)
    )


def _join(symbol: str, files: list[_Loaded]) -> pd.DataFrame:
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
    problem = find_bar_problem(joined, timeframe=files[0].timeframe)
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
    return joined


def _load_file(path: Path, name: _FileName) -> _Loaded:
    """Read, normalise and validate one file."""
    try:
        raw = _read_table(path)
    except DataError:
        raise
    except Exception as exc:  # any reader failure: corrupt, truncated, wrong format
        raise DataError(f"{name.symbol} in {path}: cannot read the file ({exc})") from exc
    frame = _normalise(raw, path, name.symbol)
    timeframe = name.timeframe or _infer_timeframe(frame, path, name.symbol)
    bars = validate_bars(frame, symbol=name.symbol, source=str(path), timeframe=timeframe)
    return _Loaded(path, timeframe, bars)


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
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
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
            parsed = pd.to_datetime(times, utc=True)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(times, utc=True, errors="coerce", format="mixed")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{symbol} in {path} row {row}: cannot read the time {times.iloc[row]!r}"
            )
        index = pd.DatetimeIndex(parsed)
    return index.as_unit("us").rename("timestamp")


def _infer_timeframe(frame: pd.DataFrame, path: Path, symbol: str) -> str:
    """The timeframe of a file whose name does not say it: the most common spacing."""
    stamps = _stamps(frame)
    if len(stamps) < 2:
        raise DataError(
            f"{symbol} in {path}: cannot tell the timeframe from fewer than two bars; "
            "put it in the file name, e.g. BTC_USDT-1h.csv"
        )
    values, counts = np.unique(np.diff(stamps), return_counts=True)
    spacing = pd.Timedelta(int(values[np.argmax(counts)]), unit="us")
    for timeframe, delta in TIMEFRAMES.items():
        if spacing == delta:
            return timeframe
    raise DataError(
        f"{symbol} in {path}: bars are {spacing} apart, which is not one of "
        f"{', '.join(TIMEFRAMES)}; put the timeframe in the file name"
    )
