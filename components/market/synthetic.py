"""SyntheticMarket: a seeded, deterministic crypto market, the default a new user sees.

How the prices are made
-----------------------
Hourly log prices are ``log(price level) + beta * M(t) + I(t)``:

- ``M`` is one market factor shared by every symbol, driven by a Markov chain of
  :class:`Regime` (strong/weak bull and bear, tight/wide sideways, volatile, choppy), each
  with its own drift, volatility and mean reversion. Regimes last 5-10 hours on average
  and the chain mostly follows a market cycle, so every regime shows up within a few days
  of hourly bars (half the time within 3.5 days). A weak pull towards zero keeps price
  levels realistic over the years.
- ``I`` is each symbol's own noise, scaled by the regime, tied to a slow mean-reverting
  level so symbols never drift apart for good.

Time is cut into chunks of 512 hours from 2020-01-01. Every random number is drawn from a
``numpy.random.Generator`` seeded by ``(seed, stream, symbol, chunk)``, so a bar depends
only on ``(seed, symbol, timeframe, open time)``, never on which window was asked for
first or which other symbols exist. The market factor is built chunk by chunk (cheap: one
series for all symbols); a symbol's noise is a bridge between levels drawn for the chunk
boundaries, so a chunk of any symbol is made without its past.

Each hour's high and low come from the exact distribution of the extremes of a Brownian
bridge between its open and close. Minute bars are filled in inside each hour (a path
through the hour's open, high, low and close), so 1m, 5m, 15m and 30m bars aggregate to
exactly the hourly ones, and 4h and 1d bars are aggregated from hours. Only the hours (or
days of minutes) asked for are made, and they are cached.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from components.clock import Clock, ManualClock, as_utc
from components.errors import ConfigurationError, DataError
from components.market.base import BAR_COLUMNS, CALENDAR_TIMEFRAMES, MarketData, Ticker
from components.market.block import BarBlock, BlockRead
from components.market.validation import timeframe_delta, validate_bars

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
"""The first hour any synthetic market can show (aligned to every timeframe)."""

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where the default :class:`ManualClock` of a :class:`SyntheticMarket` stands."""

_NS_MINUTE = 60_000_000_000
_NS_HOUR = 60 * _NS_MINUTE
_EPOCH_NS = int(pd.Timestamp(EPOCH).value)
_CHUNK = 512  # hours per chunk
_MAX_CHUNKS = 1024  # ~60 years of hours: until 2079
_DAY_HOURS = 24
_HOUR_CHUNKS_KEPT = 4096  # at least; 3 per symbol for large markets
_DAY_CACHE_BYTES = 96 * 2**20  # days of bars of groups of symbols (500 x 288 5m bars: 6 MB)
_DAYS_KEPT = 2  # per group of symbols and bar size
_WINDOW_CACHE_BYTES = 64 * 2**20  # the last window per (timeframe, symbols)

# Random streams: one per purpose, so adding draws to one never shifts another.
_STREAM_MARKET, _STREAM_LEVELS, _STREAM_HOURS, _STREAM_MINUTES = 1, 2, 3, 4


class Regime(StrEnum):
    """The market states the synthetic generator switches between."""

    STRONG_BULL = "strong_bull"
    WEAK_BULL = "weak_bull"
    STRONG_BEAR = "strong_bear"
    WEAK_BEAR = "weak_bear"
    TIGHT_SIDEWAYS = "tight_sideways"
    WIDE_SIDEWAYS = "wide_sideways"
    VOLATILE = "volatile"
    CHOPPY = "choppy"


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """How the market factor moves in one regime (all per hour, in log-price units).

    ``mean_reversion`` > 0 makes the level oscillate around where the regime began
    (an AR(1) pull of that strength per hour); 0 is a random walk with ``drift``.
    """

    drift: float
    volatility: float
    mean_reversion: float
    mean_hours: float
    idio_scale: float
    volume_scale: float
    spread_scale: float


REGIME_PARAMS: dict[Regime, RegimeParams] = {
    Regime.STRONG_BULL: RegimeParams(0.0030, 0.007, 0.0, 8, 1.0, 1.4, 1.0),
    Regime.WEAK_BULL: RegimeParams(0.0010, 0.005, 0.0, 10, 0.9, 1.0, 1.0),
    Regime.STRONG_BEAR: RegimeParams(-0.0030, 0.009, 0.0, 7, 1.2, 1.6, 1.3),
    Regime.WEAK_BEAR: RegimeParams(-0.0010, 0.006, 0.0, 10, 1.0, 1.1, 1.1),
    Regime.TIGHT_SIDEWAYS: RegimeParams(0.0, 0.002, 0.25, 9, 0.6, 0.6, 0.8),
    Regime.WIDE_SIDEWAYS: RegimeParams(0.0, 0.007, 0.08, 10, 1.0, 0.9, 1.0),
    Regime.VOLATILE: RegimeParams(0.0, 0.018, 0.0, 5, 1.8, 2.2, 2.0),
    Regime.CHOPPY: RegimeParams(0.0, 0.009, 0.5, 8, 1.2, 1.1, 1.2),
}

_REGIMES = list(Regime)
# The cycle the chain follows with probability _CYCLE_PROB; otherwise it jumps anywhere else.
_CYCLE = [
    Regime.TIGHT_SIDEWAYS,
    Regime.STRONG_BULL,
    Regime.WEAK_BULL,
    Regime.CHOPPY,
    Regime.WIDE_SIDEWAYS,
    Regime.WEAK_BEAR,
    Regime.STRONG_BEAR,
    Regime.VOLATILE,
]
_CYCLE_PROB = 0.85
_MIN_HOURS, _MAX_HOURS = 2, 72
_NEXT_IN_CYCLE = np.array(
    [_REGIMES.index(_CYCLE[(_CYCLE.index(r) + 1) % len(_CYCLE)]) for r in _REGIMES]
)
_DRIFT = np.array([REGIME_PARAMS[r].drift for r in _REGIMES])
_VOL = np.array([REGIME_PARAMS[r].volatility for r in _REGIMES])
_IDIO_SCALE = np.array([REGIME_PARAMS[r].idio_scale for r in _REGIMES])
_VOLUME_SCALE = np.array([REGIME_PARAMS[r].volume_scale for r in _REGIMES])
_SPREAD_SCALE = np.array([REGIME_PARAMS[r].spread_scale for r in _REGIMES])
_KERNEL_LEN = 48
_PULL_PER_CHUNK = 0.5  # fraction of the market factor's distance from 0 undone per chunk
# Trading activity over the day (UTC), mean 1: busiest when Europe and the US overlap.
_SEASON = 1 + 0.25 * np.cos(2 * np.pi * (np.arange(24) - 15) / 24)


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    """The character of one synthetic symbol.

    Attributes
    ----------
    price:
        Typical price level (quote currency).
    quote_volume_24h:
        Typical 24h volume in the quote currency.
    beta:
        Sensitivity to the market factor.
    idio_vol:
        Hourly volatility of the symbol's own noise (log units).
    spread_bps:
        Typical bid/ask spread in basis points (1-30).
    """

    symbol: str
    price: float
    quote_volume_24h: float
    beta: float
    idio_vol: float
    spread_bps: float


def _spread_for(quote_volume_24h: float) -> float:
    """30 bps at 1e8 of daily volume down to 1 bps at 5e10 (log-linear, clipped)."""
    exponent = -math.log(30) / math.log(500)
    return float(np.clip(30 * (quote_volume_24h / 1e8) ** exponent, 1.0, 30.0))


# symbol: (price, 24h quote volume, beta, hourly idiosyncratic vol)
_MAJORS: dict[str, tuple[float, float, float, float]] = {
    "BTC/USDT": (90_000.0, 3.0e10, 0.85, 0.0020),
    "ETH/USDT": (3_100.0, 1.5e10, 1.10, 0.0030),
    "SOL/USDT": (135.0, 3.5e9, 1.35, 0.0045),
    "XRP/USDT": (2.05, 2.2e9, 1.20, 0.0045),
    "BNB/USDT": (870.0, 1.3e9, 0.80, 0.0030),
    "DOGE/USDT": (0.14, 1.2e9, 1.40, 0.0055),
    "SUI/USDT": (1.55, 7.0e8, 1.50, 0.0060),
    "ADA/USDT": (0.39, 6.0e8, 1.25, 0.0050),
    "PEPE/USDT": (0.0000045, 5.5e8, 1.60, 0.0070),
    "LINK/USDT": (13.5, 5.0e8, 1.25, 0.0050),
    "AVAX/USDT": (13.2, 4.2e8, 1.35, 0.0055),
    "TRX/USDT": (0.285, 3.8e8, 0.55, 0.0030),
    "LTC/USDT": (80.0, 3.5e8, 1.00, 0.0045),
    "BCH/USDT": (560.0, 3.0e8, 0.95, 0.0045),
    "SHIB/USDT": (0.0000078, 2.6e8, 1.30, 0.0055),
    "DOT/USDT": (2.05, 2.4e8, 1.25, 0.0050),
    "NEAR/USDT": (1.65, 2.3e8, 1.40, 0.0060),
    "UNI/USDT": (5.6, 2.1e8, 1.30, 0.0055),
    "APT/USDT": (1.75, 1.9e8, 1.40, 0.0060),
    "ARB/USDT": (0.21, 1.8e8, 1.45, 0.0060),
    "TON/USDT": (1.62, 1.5e8, 0.90, 0.0050),
    "OP/USDT": (0.31, 1.4e8, 1.45, 0.0060),
    "ATOM/USDT": (2.25, 1.2e8, 1.20, 0.0050),
    "FIL/USDT": (1.35, 1.1e8, 1.30, 0.0055),
}


def default_symbols(n: int = 24) -> list[str]:
    """``n`` symbol names: the 24 majors by volume, then ``SYN025/USDT``, ``SYN026/USDT``...

    Example: ``SyntheticMarket(symbols=default_symbols(500))``.
    """
    if n < 1:
        raise ConfigurationError(f"n must be >= 1, got {n}")
    majors = list(_MAJORS)
    return majors[:n] + [f"SYN{i:03d}/USDT" for i in range(len(majors) + 1, n + 1)]


def symbol_profile(symbol: str) -> SymbolProfile:
    """The profile of ``symbol``: the table's for the majors, otherwise derived from its name.

    Example: ``symbol_profile("BTC/USDT").price``.
    """
    known = _MAJORS.get(symbol)
    if known is not None:
        price, volume, beta, idio = known
    else:
        u = np.frombuffer(hashlib.blake2b(symbol.encode(), digest_size=32).digest(), np.uint64)
        u1, u2, u3, u4 = (float(x) / 2.0**64 for x in u)
        price = float(10 ** (-5 + 8 * u1))
        volume = float(10 ** (8 + 1.7 * u2))
        beta = 0.7 + 0.9 * u3
        idio = 0.003 + 0.005 * u4
    return SymbolProfile(symbol, price, volume, beta, idio, _spread_for(volume))


def _symbol_key(symbol: str) -> int:
    return int.from_bytes(hashlib.blake2b(symbol.encode(), digest_size=8).digest(), "little")


def _rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *keys])))


# --------------------------------------------------------------------------------------
# The market factor: one series per seed, shared by every market instance with that seed.


@dataclass(frozen=True, slots=True)
class _MarketChunk:
    regimes: np.ndarray  # (C,) int8 index into _REGIMES
    level: np.ndarray  # (C + 1,) market log level at the start of each hour, then the end
    volatility: np.ndarray  # (C,) hourly volatility of the factor


def _mean_reversion_kernel(kappa: float, volatility: float) -> np.ndarray:
    """FIR kernel of an AR(1) level with pull ``kappa``, scaled so increments have
    standard deviation ``volatility``."""
    kernel = (1 - kappa) ** np.arange(_KERNEL_LEN)
    increment_var = kernel[0] ** 2 + np.sum(np.diff(kernel) ** 2) + kernel[-1] ** 2
    return kernel * (volatility / math.sqrt(increment_var))


_KERNELS = {
    i: _mean_reversion_kernel(REGIME_PARAMS[r].mean_reversion, REGIME_PARAMS[r].volatility)
    for i, r in enumerate(_REGIMES)
    if REGIME_PARAMS[r].mean_reversion > 0
}
# log(1 - p) of the geometric number of hours past _MIN_HOURS, p = 1 / (mean - _MIN_HOURS + 1)
_LOG_STAY = [math.log1p(-1 / (REGIME_PARAMS[r].mean_hours - _MIN_HOURS + 1)) for r in _REGIMES]


def _regime_path(rng: np.random.Generator, hours: int) -> np.ndarray:
    """A Markov chain of regimes, ``hours`` long (durations of 2-72 hours)."""
    n = hours // _MIN_HOURS + 1
    jumps = rng.random(n)
    others = rng.integers(0, len(_REGIMES) - 2, size=n)
    uniform = rng.random(n)
    out = np.empty(hours, dtype=np.int8)
    state = int(rng.integers(len(_REGIMES)))
    t = 0
    for i in range(n):
        # A geometric wait with the regime's mean, from a uniform draw (inverse CDF).
        extra = int(math.log1p(-uniform[i]) / _LOG_STAY[state])
        duration = min(_MIN_HOURS + extra, _MAX_HOURS)
        out[t : t + duration] = state
        t += duration
        if t >= hours:
            break
        following = int(_NEXT_IN_CYCLE[state])
        if jumps[i] < _CYCLE_PROB:
            state = following
        else:  # any regime but this one and the cycle's next
            choices = [j for j in range(len(_REGIMES)) if j not in (state, following)]
            state = choices[int(others[i])]
    return out


class _MarketFactor:
    """The market factor of one seed, built chunk by chunk from the epoch and kept."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._chunks: list[_MarketChunk] = []
        self._lock = threading.Lock()

    def chunk(self, k: int) -> _MarketChunk:
        with self._lock:
            while len(self._chunks) <= k:
                start = self._chunks[-1].level[-1] if self._chunks else 0.0
                self._chunks.append(self._make(len(self._chunks), float(start)))
            return self._chunks[k]

    def _make(self, k: int, start: float) -> _MarketChunk:
        rng = _rng(self._seed, _STREAM_MARKET, k)
        regimes = _regime_path(rng, _CHUNK)
        noise = rng.standard_normal(_CHUNK + _KERNEL_LEN)
        heavy = rng.standard_t(4, size=_CHUNK) / math.sqrt(2.0)  # unit variance, fat tails
        eps = np.where(regimes == _REGIMES.index(Regime.VOLATILE), heavy, noise[_KERNEL_LEN:])
        steps = _DRIFT[regimes] + _VOL[regimes] * eps
        for index, kernel in _KERNELS.items():
            mask = regimes == index
            if mask.any():
                level = np.convolve(noise, kernel, mode="valid")  # C + 1 values
                steps = np.where(mask, np.diff(level), steps)
        steps = steps - _PULL_PER_CHUNK * start / _CHUNK
        level = np.empty(_CHUNK + 1)
        level[0] = start
        np.cumsum(steps, out=level[1:])
        level[1:] += start
        return _MarketChunk(regimes, level, _VOL[regimes])


@lru_cache(maxsize=8)
def _market_factor(seed: int) -> _MarketFactor:
    return _MarketFactor(seed)


# --------------------------------------------------------------------------------------


class SyntheticMarket(MarketData):
    """A seeded synthetic market implementing :class:`~components.market.base.MarketData`.

    Example: ``SyntheticMarket(seed=7).bars("BTC/USDT", "1h", limit=500)``.

    Parameters
    ----------
    seed:
        Same seed, same market: every bar depends only on (seed, symbol, timeframe, time).
    symbols:
        Symbol names; default the 24 majors of :func:`default_symbols`. Known majors get
        realistic price levels and volumes; any other name gets a profile derived from it.
    clock:
        Decides which bars are closed; default a :class:`ManualClock` at 2026-01-01 UTC.
    history:
        How far before the clock's time at construction bars exist (never before
        :data:`EPOCH`); asking further back gives fewer bars.
    """

    source = "synthetic"

    def __init__(
        self,
        *,
        seed: int = 7,
        symbols: Sequence[str] | None = None,
        clock: Clock | None = None,
        history: timedelta = timedelta(days=730),
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigurationError(f"seed must be an integer >= 0, got {seed!r}")
        names = default_symbols() if symbols is None else list(symbols)
        if not names or not all(isinstance(s, str) and s for s in names):
            raise ConfigurationError("symbols must be a non-empty list of symbol names")
        if len(set(names)) != len(names):
            repeated = sorted({s for s in names if names.count(s) > 1})
            raise ConfigurationError(f"symbols repeat: {', '.join(repeated)}")
        if history < timedelta(0):
            raise ConfigurationError(f"history must be >= 0, got {history}")
        self._seed = seed
        self._symbols = names
        self._profiles = {s: symbol_profile(s) for s in names}
        self._keys = {s: _symbol_key(s) for s in names}
        self._clock: Clock = clock if clock is not None else ManualClock(DEFAULT_START)
        start = pd.Timestamp(as_utc(self._clock.now(), name="clock.now()")) - history
        self._first_ns = max(_EPOCH_NS, int(start.floor("1D").value))
        self._market = _market_factor(seed)
        self._levels: dict[str, np.ndarray] = {}
        self._hours: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        # Days of bars of a group of symbols at one bar size, and the last window each
        # (timeframe, symbols) asked for: a new cycle appends its new bars to that window.
        self._days = _SizedCache(_DAY_CACHE_BYTES)
        self._windows = _SizedCache(_WINDOW_CACHE_BYTES)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self._seed}, symbols={len(self._symbols)})"

    # --- the MarketData protocol ----------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock this market reads ``now()`` from (a manual one can be advanced)."""
        return self._clock

    def symbols(self) -> list[str]:
        """Every symbol of this market, e.g. ``market.symbols()[0] == "BTC/USDT"``."""
        return list(self._symbols)

    def now(self) -> datetime:
        """The market clock's time."""
        return self._clock.now()

    @property
    def first_bar_time(self) -> datetime:
        """The open time of the earliest bar this market shows."""
        return pd.Timestamp(self._first_ns, unit="ns", tz="UTC").to_pydatetime()

    def profile(self, symbol: str) -> SymbolProfile:
        """The :class:`SymbolProfile` of ``symbol``."""
        self._check_symbol(symbol)
        return self._profiles[symbol]

    def bars(
        self, symbol: str, timeframe: str = "1h", *, limit: int = 500, end: datetime | None = None
    ) -> pd.DataFrame:
        """The last ``limit`` closed bars of ``symbol`` whose close is at or before ``end``.

        Example: ``market.bars("ETH/USDT", "4h", limit=100)``.

        ``end`` defaults to ``now()`` and is capped at it (a market never shows the future).
        Fewer bars come back when the request reaches before :attr:`first_bar_time`.

        Raises
        ------
        ConfigurationError
            Unknown symbol or timeframe, ``limit`` < 1, or a naive ``end``.
        """
        self._check_symbol(symbol)
        first, count, step = self._window(timeframe, limit, end)
        with self._lock:
            values = np.array(self._block_values((symbol,), timeframe, first, count)[:, 0, :])
        frame = _frame(values, _index(first, step, count))
        return validate_bars(frame, symbol=symbol, source=self.source, timeframe=timeframe)

    def bars_many(
        self,
        symbols: Iterable[str],
        timeframe: str = "1h",
        *,
        limit: int = 500,
        end: datetime | None = None,
    ) -> dict[str, pd.DataFrame]:
        """:meth:`bars` for many symbols at once (sharing one index), keyed by symbol.

        Example: ``market.bars_many(market.symbols(), "1h", limit=1000)``.
        """
        names = list(symbols)
        read = self.bars_block(names, timeframe, limit=limit, end=end)
        if not read.blocks:
            first, count, step = self._window(timeframe, limit, end)
            return {s: _frame(np.empty((5, 0)), _index(first, step, count)) for s in names}
        (block,) = read.blocks
        step = int(timeframe_delta(timeframe).value)
        index = _index(int(block.times[0]), step, len(block))
        return {
            s: validate_bars(
                _frame(np.array(block.values[:, row, :]), index),
                symbol=s,
                source=self.source,
                timeframe=timeframe,
            )
            for row, s in enumerate(block.symbols)
        }

    def bars_block(
        self,
        symbols: Iterable[str],
        timeframe: str = "1h",
        *,
        limit: int = 500,
        end: datetime | None = None,
    ) -> BlockRead:
        """The bars of :meth:`bars_many` as one :class:`~components.market.block.BarBlock`
        (read-only arrays), made across all symbols at once.

        The last window asked for is kept per (timeframe, symbols): asking again after the
        clock moved makes only the bars that closed since, and appends them.

        Example: ``market.bars_block(market.symbols(), "5m", limit=300).blocks[0]``.
        """
        names = tuple(symbols)
        for symbol in names:
            self._check_symbol(symbol)
        first, count, _ = self._window(timeframe, limit, end)
        if count == 0 or not names:
            return BlockRead([], {s: "no closed bars" for s in names})
        with self._lock:
            values = self._window_values(names, timeframe, first, count)
        step = int(timeframe_delta(timeframe).value)
        times = first + step * np.arange(count, dtype=np.int64)
        # Bars are checked against the contract once, when made (see _checked).
        return BlockRead([BarBlock(names, times, values, timeframe, checked=True)], {})

    def bar_opens(self, symbols: Iterable[str], timeframe: str, at: datetime) -> dict[str, float]:
        """The open of each symbol's ``timeframe`` bar opening at ``at``, once the clock has
        reached ``at`` (``{}`` before, or when no bar opens at ``at``): the first price of
        the bar. Every bar here opens at the close of the one before (the price path is
        continuous), so it is read from a window already made when one holds that bar
        (the engine's, read this cycle), else made with the bar.

        Example: ``market.bar_opens(["BTC/USDT"], "5m", at)["BTC/USDT"]``.
        """
        names = tuple(symbols)
        for symbol in names:
            self._check_symbol(symbol)
        step = int(timeframe_delta(timeframe).value)
        at_ns = int(pd.Timestamp(as_utc(at, name="at")).value)
        if not names or at_ns % step or at_ns < self._first_ns or at_ns > self._cap(None):
            return {}
        with self._lock:
            opens = self._kept_closes(names, timeframe, at_ns - step)
            if opens is None:
                opens = self._block_values(names, timeframe, at_ns, 1)[0, :, 0]
        return dict(zip(names, opens.tolist(), strict=True))

    def ticker(self, symbol: str, *, at: datetime | None = None) -> Ticker:
        """The ticker of ``symbol`` at ``at`` (default and at most ``now()``).

        Example: ``market.ticker("BTC/USDT").quote_volume_24h``.

        ``last`` is the close of the last finished minute; ``quote_volume_24h`` sums
        ``volume * close`` over the last 24 closed hours; the spread follows the symbol's
        liquidity and the regime (1-30 bps).

        Raises
        ------
        DataError
            If ``at`` is before the market's first minute.
        """
        return self.tickers([symbol], at=at)[symbol]

    def tickers(
        self, symbols: Iterable[str] | None = None, *, at: datetime | None = None
    ) -> dict[str, Ticker]:
        """:meth:`ticker` for many symbols (default all), keyed by symbol, made for all of
        them at once."""
        names = tuple(self._symbols if symbols is None else symbols)
        for symbol in names:
            self._check_symbol(symbol)
        at_ns = self._cap(at)
        minute = (at_ns - _EPOCH_NS) // _NS_MINUTE - 1  # the last closed minute
        first_minute = (self._first_ns - _EPOCH_NS) // _NS_MINUTE
        if minute < first_minute:
            raise DataError(
                f"{names[0] if len(names) == 1 else 'tickers'} in synthetic: no bars before "
                f"{self.first_bar_time.isoformat()}, asked for a ticker at "
                f"{pd.Timestamp(at_ns, tz='UTC').isoformat()}"
            )
        if not names:
            return {}
        hour_end = (at_ns - _EPOCH_NS) // _NS_HOUR  # hours [.., hour_end) are closed
        hour_start = max(hour_end - 24, (self._first_ns - _EPOCH_NS) // _NS_HOUR)
        day_minutes = _DAY_HOURS * 60
        with self._lock:
            closes = self._minute_closes(names, int(minute // day_minutes))
            last = closes[:, minute % day_minutes]
            count = max(hour_end - hour_start, 0)
            self._ensure_hours(names, hour_start, count)
            hours = np.stack([self._hour_values(s, hour_start, count) for s in names], axis=1)
        quote_volume = np.sum(hours[4] * hours[3], axis=-1)
        regime = self._regime_index(int(minute // 60))
        spread = np.array([self._profiles[s].spread_bps for s in names])
        bps = np.clip(spread * _SPREAD_SCALE[regime], 1.0, 30.0)
        half = last * bps / 20_000
        stamp = pd.Timestamp(at_ns, unit="ns", tz="UTC").to_pydatetime()
        return {
            symbol: Ticker(
                symbol=symbol,
                at=stamp,
                last=float(last[i]),
                bid=float(last[i] - half[i]),
                ask=float(last[i] + half[i]),
                quote_volume_24h=float(quote_volume[i]),
            )
            for i, symbol in enumerate(names)
        }

    def regime_at(self, symbol: str, t: datetime) -> Regime:
        """The regime that generated the hour containing ``t`` (the truth, for tests).

        Example: ``market.regime_at("BTC/USDT", market.now())``.
        """
        self._check_symbol(symbol)
        t_ns = int(pd.Timestamp(as_utc(t, name="t")).value)
        if t_ns < _EPOCH_NS:
            raise ConfigurationError(f"t must be on or after {EPOCH.isoformat()}")
        return _REGIMES[self._regime_index((t_ns - _EPOCH_NS) // _NS_HOUR)]

    # --- internals ------------------------------------------------------------------------

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self._profiles:
            shown = ", ".join(self._symbols[:5]) + (", ..." if len(self._symbols) > 5 else "")
            raise ConfigurationError(
                f"unknown symbol {symbol!r} for this synthetic market; it has {shown}"
            )

    def _cap(self, t: datetime | None) -> int:
        now = int(pd.Timestamp(as_utc(self._clock.now(), name="clock.now()")).value)
        if t is None:
            return now
        return min(int(pd.Timestamp(as_utc(t, name="end")).value), now)

    def _window(self, timeframe: str, limit: int, end: datetime | None) -> tuple[int, int, int]:
        """(first open time in ns, number of bars, step in ns) of a request."""
        step = int(timeframe_delta(timeframe).value)
        if timeframe in CALENDAR_TIMEFRAMES:
            raise ConfigurationError(
                f"the synthetic market has no {timeframe} bars (calendar periods); use 1w or less"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an integer >= 1, got {limit!r}")
        end_ns = self._cap(end)
        last = (end_ns // step) * step - step  # the last bar whose close is <= end
        first = max(last - (limit - 1) * step, -(-self._first_ns // step) * step)
        count = max((last - first) // step + 1, 0)
        return first, count, step

    def _regime_index(self, hour: int) -> int:
        return int(self._market.chunk(hour // _CHUNK).regimes[hour % _CHUNK])

    def _regimes(self, start: int, count: int) -> np.ndarray:
        """Regime indices of ``count`` hours from hour ``start`` (hours since the epoch)."""
        pieces, hour = [], start
        while hour < start + count:
            k, offset = divmod(hour, _CHUNK)
            take = min(_CHUNK - offset, start + count - hour)
            pieces.append(self._market.chunk(k).regimes[offset : offset + take])
            hour += take
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int8)

    def _window_values(
        self, names: tuple[str, ...], timeframe: str, first: int, count: int
    ) -> np.ndarray:
        """(5, symbols, count) bars from open time ``first``, read-only: from the kept
        window of (timeframe, names) when it covers them, else with the bars after it
        appended in place (only those are made), else made afresh."""
        step = int(timeframe_delta(timeframe).value)
        key = (timeframe, names)
        kept: _Window | None = self._windows.get(key)
        if kept is None or not kept.first <= first < kept.end(step) + step:
            values = self._checked(names, timeframe, first, count)
            kept = _Window.of(first, values, headroom=max(count // 2, 16))
            self._windows.put(key, kept, kept.buffer.nbytes)
        elif first + step * count > kept.end(step):
            new = (first + step * count - kept.end(step)) // step
            more = self._checked(names, timeframe, kept.end(step), new)
            grown = kept.append(more, keep_from=(first - kept.first) // step, step=step)
            if grown is not kept:
                self._windows.put(key, grown, grown.buffer.nbytes)
            kept = grown
        return kept.view((first - kept.first) // step, count)

    def _kept_closes(self, names: tuple[str, ...], timeframe: str, at: int) -> np.ndarray | None:
        """The closes of ``names`` at the bar opening at ``at`` from a kept window of
        ``timeframe`` that holds them, or None."""
        step = int(timeframe_delta(timeframe).value)
        for (kept_timeframe, kept_names), window in self._windows.items():
            if kept_timeframe != timeframe or not window.first <= at < window.end(step):
                continue
            rows = {symbol: row for row, symbol in enumerate(kept_names)}
            if all(symbol in rows for symbol in names):
                column = (at - window.first) // step
                return window.buffer[3, [rows[s] for s in names], column]
        return None

    def _checked(
        self, names: tuple[str, ...], timeframe: str, first: int, count: int
    ) -> np.ndarray:
        """:meth:`_block_values`, checked against the bars contract.

        Raises
        ------
        DataError
            A bar breaks the contract: a bug in this generator, never bad luck.
        """
        values = self._block_values(names, timeframe, first, count)
        step = int(timeframe_delta(timeframe).value)
        times = first + step * np.arange(count, dtype=np.int64)
        problems = BarBlock(names, times, values, timeframe).problems()
        if problems:
            raise DataError(f"synthetic market made a bad bar: {next(iter(problems.values()))}")
        return values

    def _block_values(
        self, names: tuple[str, ...], timeframe: str, first: int, count: int
    ) -> np.ndarray:
        """(5, symbols, count) bars of ``timeframe`` from open time ``first``."""
        if count == 0:
            return np.empty((5, len(names), 0))
        step = int(timeframe_delta(timeframe).value)
        if step >= _NS_HOUR:
            per = step // _NS_HOUR
            start = (first - _EPOCH_NS) // _NS_HOUR
            self._ensure_hours(names, start, count * per)
            hours = np.stack([self._hour_values(s, start, count * per) for s in names], axis=1)
            return _aggregate(hours, per)
        per = step // _NS_MINUTE
        day_bars = _DAY_HOURS * 60 // per
        start = (first - _EPOCH_NS) // step
        days = range(start // day_bars, (start + count - 1) // day_bars + 1)
        pieces = [self._day_bars(names, day, per) for day in days]
        offset = start - days[0] * day_bars
        joined = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=2)
        return joined[:, :, offset : offset + count]

    def _day_bars(self, names: tuple[str, ...], day: int, per: int) -> np.ndarray:
        """(5, symbols, 1440 / per) bars of ``per`` minutes over one day."""
        return self._kept_day(
            (names, per), day, lambda: _aggregate(self._minute_days(names, day), per)
        )

    def _minute_closes(self, names: tuple[str, ...], day: int) -> np.ndarray:
        """(symbols, 1440) closes of the minutes of one day (made a few hundred symbols at
        a time: a day of every minute bar of thousands of symbols is large)."""

        def make() -> np.ndarray:
            return np.concatenate(
                [self._minute_days(names[i : i + 256], day)[3] for i in range(0, len(names), 256)]
            )

        return self._kept_day((names, "close"), day, make)

    def _kept_day(self, key: tuple[Any, ...], day: int, make: Any) -> np.ndarray:
        """One day of something made for a group of symbols. The last days made per key are
        kept (a window moving forward needs its newest day, and the day before around
        midnight); older ones are made again if asked."""
        days: dict[int, np.ndarray] = self._days.get(key) or {}
        cached = days.get(day)
        if cached is None:
            cached = make()
            cached.flags.writeable = False
            days = {**dict(list(days.items())[-(_DAYS_KEPT - 1) :]), day: cached}
            self._days.put(key, days, sum(v.nbytes for v in days.values()))
        return cached

    def _minute_days(self, names: tuple[str, ...], day: int) -> np.ndarray:
        """(5, symbols, 1440) minute values of one day, filled in inside each of its 24
        hours; each symbol's random draws are its own, so a symbol's minutes do not depend
        on which others are made with it."""
        self._ensure_hours(names, day * _DAY_HOURS, _DAY_HOURS)
        hours = np.stack(
            [self._hour_values(s, day * _DAY_HOURS, _DAY_HOURS) for s in names], axis=1
        )  # (5, symbols, 24)
        regimes = self._regimes(day * _DAY_HOURS, _DAY_HOURS)
        beta = np.array([self._profiles[s].beta for s in names])[:, None]
        idio = np.array([self._profiles[s].idio_vol for s in names])[:, None]
        var = (beta * _VOL[regimes]) ** 2 + (idio * _IDIO_SCALE[regimes]) ** 2
        draws = [
            _MinuteDraws.of(_rng(self._seed, _STREAM_MINUTES, self._keys[s], day), _DAY_HOURS)
            for s in names
        ]
        values = _fill_minutes(
            hours.reshape(5, -1), np.sqrt(var / 60).reshape(-1), _MinuteDraws.join(draws)
        )
        return values.reshape(5, len(names), _DAY_HOURS * 60)

    def _hour_values(self, symbol: str, start: int, count: int) -> np.ndarray:
        """(5, count) hourly values from hour ``start`` (hours since the epoch)."""
        pieces = []
        hour = start
        while hour < start + count:
            k, offset = divmod(hour, _CHUNK)
            take = min(_CHUNK - offset, start + count - hour)
            pieces.append(self._hour_chunk(symbol, k)[:, offset : offset + take])
            hour += take
        if not pieces:
            return np.empty((5, 0))
        return np.concatenate(pieces, axis=1)  # always a fresh array, never the cache

    def _hour_chunk(self, symbol: str, k: int) -> np.ndarray:
        key = (symbol, k)
        if key not in self._hours:
            self._ensure_hours([symbol], k * _CHUNK, _CHUNK)
        self._hours.move_to_end(key)
        return self._hours[key]

    def _symbol_levels(self, symbol: str) -> np.ndarray:
        """The symbol's own log level at every chunk boundary: a stationary AR(1)."""
        levels = self._levels.get(symbol)
        if levels is None:
            rng = _rng(self._seed, _STREAM_LEVELS, self._keys[symbol])
            a, sd = 0.5, 0.2
            kernel = sd * math.sqrt(1 - a * a) * a ** np.arange(64)
            noise = rng.standard_normal(_MAX_CHUNKS + 64)
            levels = np.convolve(noise, kernel, mode="valid")  # _MAX_CHUNKS + 1 values
            self._levels[symbol] = levels
        return levels

    def _make_hours(self, names: Sequence[str], k: int) -> np.ndarray:
        """(symbols, 5, 512) hourly values of chunk ``k`` of each of ``names``; each symbol
        draws from its own generator, so its hours do not depend on the others made with
        it."""
        market = self._market.chunk(k)
        profiles = [self._profiles[s] for s in names]
        column = np.newaxis
        levels = np.stack([self._symbol_levels(s)[k : k + 2] for s in names])  # (S, 2)
        price = np.array([math.log(p.price) for p in profiles])[:, column]
        beta = np.array([p.beta for p in profiles])[:, column]
        idio = np.array([p.idio_vol for p in profiles])[:, column] * _IDIO_SCALE[market.regimes]
        volume_24h = np.array([p.quote_volume_24h for p in profiles])[:, column]
        steps, extremes, volume_noise = [], [], []
        for symbol in names:  # the draws, in each symbol's own fixed order
            rng = _rng(self._seed, _STREAM_HOURS, self._keys[symbol], k)
            steps.append(rng.standard_normal(_CHUNK))
            extremes.append(rng.standard_exponential((2, _CHUNK)))
            volume_noise.append(rng.standard_normal(_CHUNK))
        start = np.zeros((len(names), 1))
        walk = np.concatenate((start, np.cumsum(np.stack(steps) * idio, axis=1)), axis=1)
        weight = np.concatenate((start, np.cumsum(idio**2, axis=1)), axis=1)
        weight /= weight[:, -1:]
        # Bridge each symbol's own walk between the chunk's boundary levels.
        low_level, high_level = levels[:, :1], levels[:, 1:]
        own = low_level + walk + weight * (high_level - low_level - walk[:, -1:])
        own[:, -1] = levels[:, 1]  # exactly where the next chunk starts
        log_price = price + beta * market.level + own
        prices = np.exp(log_price)
        open_, close = prices[:, :-1], prices[:, 1:]
        a, b = log_price[:, :-1], log_price[:, 1:]
        var = (beta * market.volatility) ** 2 + idio**2
        extreme = np.stack(extremes, axis=1)  # (2, S, 512)
        # Exact law of a Brownian bridge's maximum (and minimum) between a and b.
        reach_up = np.sqrt((b - a) ** 2 + 2 * var * extreme[0])
        reach_down = np.sqrt((b - a) ** 2 + 2 * var * extreme[1])
        high = np.maximum(np.exp(0.5 * (a + b + reach_up)), np.maximum(open_, close))
        low = np.minimum(np.exp(0.5 * (a + b - reach_down)), np.minimum(open_, close))
        hour_of_day = (k * _CHUNK + np.arange(_CHUNK)) % _DAY_HOURS
        activity = 0.55 + 0.55 * np.abs(b - a) / np.sqrt(var)
        noise = np.exp(0.3 * np.stack(volume_noise) - 0.045)
        quote = (
            volume_24h
            / _DAY_HOURS
            * _SEASON[hour_of_day]
            * _VOLUME_SCALE[market.regimes]
            * activity
            * noise
        )
        return np.stack([open_, high, low, close, quote / close], axis=1)

    def _ensure_hours(self, names: Sequence[str], start: int, count: int) -> None:
        """Make (all at once, per chunk) the hour chunks of ``names`` that cover ``count``
        hours from hour ``start`` and are not kept yet."""
        if count <= 0:
            return
        for k in range(start // _CHUNK, (start + count - 1) // _CHUNK + 1):
            missing = [s for s in dict.fromkeys(names) if (s, k) not in self._hours]
            if not missing:
                continue
            if k >= _MAX_CHUNKS:
                raise ConfigurationError("synthetic data ends in 2079; ask for an earlier time")
            for symbol, values in zip(missing, self._make_hours(missing, k), strict=True):
                self._hours[(symbol, k)] = values
        while len(self._hours) > max(_HOUR_CHUNKS_KEPT, 3 * len(self._symbols)):
            self._hours.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _MinuteDraws:
    """The random numbers that fill ``n`` hours with minutes, drawn in one fixed order."""

    at_high: np.ndarray  # (n,) minute of the high
    low_draw: np.ndarray  # (n,) minute of the low, before skipping the high's
    steps: np.ndarray  # (n, 60) bridge noise
    wiggle: np.ndarray  # (2, n, 60) wicks above and below
    weights: np.ndarray  # (n, 60) volume weights

    @classmethod
    def of(cls, rng: np.random.Generator, n: int) -> _MinuteDraws:
        return cls(
            rng.integers(1, 60, size=n),
            rng.integers(1, 59, size=n),
            rng.standard_normal((n, 60)),
            rng.standard_normal((2, n, 60)),
            rng.gamma(2.0, size=(n, 60)),
        )

    @classmethod
    def join(cls, draws: Sequence[_MinuteDraws]) -> _MinuteDraws:
        """The draws of several groups of hours, one after the other."""
        if len(draws) == 1:
            return draws[0]
        return cls(
            np.concatenate([d.at_high for d in draws]),
            np.concatenate([d.low_draw for d in draws]),
            np.concatenate([d.steps for d in draws]),
            np.concatenate([d.wiggle for d in draws], axis=1),
            np.concatenate([d.weights for d in draws]),
        )


def _fill_minutes(hours: np.ndarray, minute_vol: np.ndarray, draws: _MinuteDraws) -> np.ndarray:
    """Minute bars inside each hour that aggregate exactly to the hour's OHLC.

    A path of 61 points per hour runs from the open through the high and the low (at
    random minutes, in random order) to the close, with bridge noise in between, clipped
    to the hour's range. Each hour (a column of ``hours``) uses only its own draws.
    """
    o, h, lo, c, v = hours
    n = hours.shape[1]
    at_high = draws.at_high
    low_draw = draws.low_draw
    at_low = np.where(low_draw >= at_high, low_draw + 1, low_draw)  # never at_high
    first, second = np.minimum(at_high, at_low), np.maximum(at_high, at_low)
    high_first = at_high < at_low
    anchors_t = np.stack([np.zeros(n, int), first, second, np.full(n, 60)], axis=1)
    log_h, log_l = np.log(h), np.log(lo)
    anchors_v = np.stack(
        [
            np.log(o),
            np.where(high_first, log_h, log_l),
            np.where(high_first, log_l, log_h),
            np.log(c),
        ],
        axis=1,
    )
    j = np.arange(61)
    segment = (j >= first[:, None]).astype(int) + (j >= second[:, None])
    s = np.take_along_axis(anchors_t, segment, axis=1)
    e = np.take_along_axis(anchors_t, segment + 1, axis=1)
    frac = (j - s) / (e - s)
    vs = np.take_along_axis(anchors_v, segment, axis=1)
    ve = np.take_along_axis(anchors_v, segment + 1, axis=1)
    walk = np.zeros((n, 61))
    np.cumsum(draws.steps * minute_vol[:, None], axis=1, out=walk[:, 1:])
    ws = np.take_along_axis(walk, s, axis=1)
    we = np.take_along_axis(walk, e, axis=1)
    path = np.exp(vs + frac * (ve - vs) + walk - ws - frac * (we - ws))
    rows = np.arange(n)
    path[:, 0], path[:, 60] = o, c
    path[rows, at_high], path[rows, at_low] = h, lo
    path = np.clip(path, lo[:, None], h[:, None])
    m_open, m_close = path[:, :-1], path[:, 1:]
    wiggle = np.abs(draws.wiggle) * (0.5 * minute_vol)[None, :, None]
    m_high = np.minimum(np.maximum(m_open, m_close) * np.exp(wiggle[0]), h[:, None])
    m_low = np.maximum(np.minimum(m_open, m_close) * np.exp(-wiggle[1]), lo[:, None])
    weights = draws.weights
    m_volume = weights * (v / weights.sum(axis=1))[:, None]
    return np.stack([m_open, m_high, m_low, m_close, m_volume]).reshape(5, n * 60)


def _aggregate(values: np.ndarray, per: int) -> np.ndarray:
    """Combine every ``per`` consecutive bars along the last axis of a (5, ..., n * per)
    array into one."""
    if per == 1:
        return values
    grouped = values.reshape(*values.shape[:-1], -1, per)
    return np.stack(
        [
            grouped[0, ..., 0],
            grouped[1].max(axis=-1),
            grouped[2].min(axis=-1),
            grouped[3, ..., -1],
            grouped[4].sum(axis=-1),
        ]
    )


@dataclass(slots=True)
class _Window:
    """The bars last asked for of one (timeframe, symbols), in a buffer with room after
    them: a new cycle writes its new bars into that room instead of copying the window.
    Columns up to ``filled`` are never written again, so views handed out stay as they
    were; when the room runs out the bars still wanted move to a new buffer."""

    first: int  # open time of the buffer's first column (ns)
    buffer: np.ndarray  # (5, symbols, capacity)
    filled: int
    headroom: int

    @classmethod
    def of(cls, first: int, values: np.ndarray, *, headroom: int) -> _Window:
        count = values.shape[2]
        buffer = np.empty((*values.shape[:2], count + headroom))
        buffer[:, :, :count] = values
        return cls(first, buffer, count, headroom)

    def end(self, step: int) -> int:
        """The open time just after the last bar held."""
        return self.first + step * self.filled

    def append(self, more: np.ndarray, *, keep_from: int, step: int) -> _Window:
        """This window with ``more`` bars after its last: in place when they fit, else a
        new window of its bars from column ``keep_from`` on, then ``more``, with fresh
        room (``step``: the bar length in ns)."""
        new = more.shape[2]
        if self.filled + new <= self.buffer.shape[2]:
            self.buffer[:, :, self.filled : self.filled + new] = more
            self.filled += new
            return self
        kept = self.buffer[:, :, keep_from : self.filled]
        grown = _Window.of(self.first + step * keep_from, kept, headroom=max(self.headroom, new))
        grown.headroom = self.headroom
        return grown.append(more, keep_from=0, step=step)

    def view(self, offset: int, count: int) -> np.ndarray:
        """``count`` bars from column ``offset``, read-only."""
        values = self.buffer[:, :, offset : offset + count]
        values.flags.writeable = False
        return values


class _SizedCache:
    """A least-recently-used cache bounded by the bytes of what it holds."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._entries: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: object) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def items(self) -> list[tuple[Any, Any]]:
        """(key, value) of every entry, most recently used last (the order is unchanged)."""
        return [(key, value) for key, (value, _) in self._entries.items()]

    def put(self, key: object, value: object, nbytes: int) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old[1]
        self._entries[key] = (value, nbytes)
        self._bytes += nbytes
        while self._bytes > self._max and len(self._entries) > 1:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= dropped


def _index(first: int, step: int, count: int) -> pd.DatetimeIndex:
    stamps = (first + step * np.arange(count, dtype=np.int64)) // 1_000
    return pd.DatetimeIndex(stamps.view("M8[us]"), dtype="datetime64[us, UTC]", name="timestamp")


def _frame(values: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(values.T, index=index, columns=list(BAR_COLUMNS), copy=False)
