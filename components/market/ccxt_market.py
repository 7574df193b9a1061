"""CcxtMarket: bars and tickers from a live exchange through a ccxt exchange object.

ccxt is the optional ``live`` extra, so this module never imports it: it takes the exchange
object and duck-types the few methods it needs (``load_markets``, ``fetch_ohlcv``,
``fetch_ticker``, ``fetch_tickers``)::

    import ccxt
    market = CcxtMarket(ccxt.binance({"enableRateLimit": True}), symbols=["BTC/USDT"])
    market.bars("BTC/USDT", "1h", limit=500)

Errors from the exchange are sorted by what the caller can do about them: ccxt's
``NetworkError`` family (``RequestTimeout``, ``ExchangeNotAvailable``, ``DDoSProtection``,
``RateLimitExceeded``, ...) and plain timeouts or connection errors become
:class:`~components.errors.TemporaryError` (retry later); anything else becomes
:class:`~components.errors.DataError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from components.clock import Clock, SystemClock, as_utc
from components.errors import ConfigurationError, DataError, TemporaryError
from components.market.base import BAR_COLUMNS, MarketData, Ticker
from components.market.validation import timeframe_delta, validate_bars

TEMPORARY_ERROR_NAMES = frozenset(
    {
        "NetworkError",
        "RequestTimeout",
        "ExchangeNotAvailable",
        "DDoSProtection",
        "RateLimitExceeded",
        "OnMaintenance",
    }
)
"""ccxt error classes (matched by name, anywhere in the class's ancestry) that may pass."""

_MS = 1_000  # us per ms
_TICKER_TOLERANCE = timedelta(minutes=1)


def ccxt_exchange_class(exchange_id: str, *, purpose: str) -> Any:
    """The ccxt class of ``exchange_id`` (ccxt imported only now: it is the ``live`` extra).

    Raises
    ------
    ConfigurationError
        ccxt is not installed (the message says how to get it, naming ``purpose``), or it
        has no such exchange.
    """
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        raise ConfigurationError(
            f"{purpose} needs ccxt: pip install 'quantum-trader[live]'"
        ) from None
    exchange_class = getattr(ccxt, exchange_id, None)
    if exchange_class is None:
        raise ConfigurationError(f"ccxt has no exchange {exchange_id!r}")
    return exchange_class


def is_temporary(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage that may pass (ccxt NetworkError family, timeouts).

    Example: ``is_temporary(ccxt.RequestTimeout("slow")) is True``.
    """
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return any(cls.__name__ in TEMPORARY_ERROR_NAMES for cls in type(exc).__mro__)


class CcxtMarket(MarketData):
    """A ``MarketData`` over a ccxt exchange object.

    Example: ``CcxtMarket(ccxt.binance(), symbols=["BTC/USDT"]).bars("BTC/USDT", "1h")``.

    Parameters
    ----------
    exchange:
        A ccxt exchange instance (or anything with the same methods).
    symbols:
        The symbols to offer; default every active spot market of the exchange.
    clock:
        Default the wall clock (:class:`SystemClock`); bars closed after ``now()`` are
        never returned, including the candle the exchange still has open.
    fill_gaps:
        Some exchanges leave out bars with no trades; fill such holes with flat bars at
        the previous close and zero volume (default) instead of raising ``DataError``.
    page_size:
        Most bars asked for in one ``fetch_ohlcv`` request (Binance allows 1000).
    max_requests:
        Most ``fetch_ohlcv`` pages one :meth:`bars` call may make.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        symbols: Sequence[str] | None = None,
        clock: Clock | None = None,
        fill_gaps: bool = True,
        page_size: int = 1_000,
        max_requests: int = 20,
    ) -> None:
        for method in ("fetch_ohlcv", "fetch_ticker"):
            if not callable(getattr(exchange, method, None)):
                raise ConfigurationError(
                    f"exchange {exchange!r} has no {method}(); pass a ccxt exchange object"
                )
        if page_size < 1 or max_requests < 1:
            raise ConfigurationError(
                f"page_size and max_requests must be >= 1, got {page_size} and {max_requests}"
            )
        self._page_size = page_size
        self._exchange = exchange
        self._name = str(getattr(exchange, "id", "") or type(exchange).__name__)
        self.source = f"ccxt:{self._name}"
        self._symbols = list(symbols) if symbols is not None else None
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._fill_gaps = fill_gaps
        self._max_requests = max_requests
        # (symbol, timeframe) -> (first, last open time asked for, closed bars by open time)
        self._windows: dict[tuple[str, str], tuple[int, int, dict[int, list[Any]]]] = {}

    def __repr__(self) -> str:
        return f"CcxtMarket({self._name})"

    # --- the MarketData protocol ----------------------------------------------------------

    def symbols(self) -> list[str]:
        """The symbols given, or every active spot market (loaded once)."""
        if self._symbols is None:
            markets = self._call("load_markets", "load the markets")
            if not isinstance(markets, dict):
                raise DataError(f"{self.source}: load_markets() gave {type(markets).__name__}")
            self._symbols = sorted(
                symbol
                for symbol, market in markets.items()
                if isinstance(market, dict)
                and market.get("active", True) is not False
                and market.get("spot", True) is not False
            )
        return list(self._symbols)

    def now(self) -> datetime:
        """The clock's time (the wall clock by default)."""
        return self._clock.now()

    def bars(
        self, symbol: str, timeframe: str = "1h", *, limit: int = 500, end: datetime | None = None
    ) -> pd.DataFrame:
        """The last ``limit`` bars of ``symbol`` closed at or before ``end`` (<= ``now()``).

        Example: ``market.bars("BTC/USDT", "1h", limit=200)``.

        Pages through ``fetch_ohlcv`` when the exchange gives fewer bars per request than
        asked, and drops the candle that is still open.

        Raises
        ------
        TemporaryError
            The exchange is unreachable, slow or rate-limiting; retry later.
        DataError
            The exchange refused the request or sent bars that break the contract.
        ConfigurationError
            Unknown symbol or timeframe, ``limit`` < 1, or a naive ``end``.
        """
        self._check_symbol(symbol)
        step = timeframe_delta(timeframe).value // 1_000_000  # ms
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigurationError(f"limit must be an integer >= 1, got {limit!r}")
        end_ms = self._cap_ms(end)
        last = (end_ms // step) * step - step  # the last bar whose close is <= end
        first = last - (limit - 1) * step
        # Closed bars do not change: keep the last window and ask only for the bars after it.
        kept = self._windows.get((symbol, timeframe))
        if kept is not None and kept[0] <= first <= kept[1] + step:
            covered, rows = kept[1], {t: row for t, row in kept[2].items() if t >= first}
        else:
            covered, rows = first - step, {}
        if covered < last:
            fetched, covered = self._fetch(symbol, timeframe, covered + step, first, last, step)
            rows.update(fetched)
        self._windows[(symbol, timeframe)] = (first, covered, rows)
        frame = self._to_frame({t: row for t, row in rows.items() if t <= last}, step)
        return validate_bars(frame, symbol=symbol, source=self.source, timeframe=timeframe)

    def _fetch(
        self, symbol: str, timeframe: str, since: int, first: int, last: int, step: int
    ) -> tuple[dict[int, list[Any]], int]:
        """The bars from ``since`` to ``last`` (open times in ms), page by page, and the
        open time up to which the exchange answered."""
        rows: dict[int, list[Any]] = {}
        answered = since - step
        for _ in range(self._max_requests):
            batch = self._call(
                "fetch_ohlcv",
                f"fetch {timeframe} bars of {symbol}",
                symbol,
                timeframe,
                since=since,
                limit=min((last - since) // step + 1, self._page_size),
            )
            if not isinstance(batch, list):
                raise DataError(
                    f"{symbol} in {self.source}: fetch_ohlcv gave {type(batch).__name__}"
                )
            newest = since - step
            for row in batch:
                stamp = _number(row[0]) if isinstance(row, list | tuple) and len(row) >= 6 else None
                if stamp is None:
                    raise DataError(
                        f"{symbol} in {self.source}: bar {row!r} is not "
                        "[time, open, high, low, close, volume]"
                    )
                stamp = int(stamp)
                newest = max(newest, stamp)
                if first <= stamp <= last:
                    rows[stamp] = list(row[:6])
            answered = min(max(answered, newest), last)
            if not batch or newest >= last or newest < since:
                break
            since = newest + step
        return rows, answered

    def bar_opens(self, symbols: Iterable[str], timeframe: str, at: datetime) -> dict[str, float]:
        """The open of each symbol's forming ``timeframe`` candle, if it opened at ``at``
        (one ``fetch_ohlcv`` of one candle per symbol: ask only for the symbols that need
        it). A symbol the exchange gives no such candle for is left out.

        Example: ``market.bar_opens(["BTC/USDT"], "5m", at)``.

        Raises
        ------
        TemporaryError
            The exchange is unreachable, slow or rate-limiting.
        """
        step = timeframe_delta(timeframe).value // 1_000_000
        at_ms = int(pd.Timestamp(as_utc(at, name="at")).value // 1_000_000)
        if at_ms % step or at_ms > self._cap_ms(None):
            return {}
        opens: dict[str, float] = {}
        for symbol in symbols:
            self._check_symbol(symbol)
            batch = self._call(
                "fetch_ohlcv",
                f"fetch the forming {timeframe} candle of {symbol}",
                symbol,
                timeframe,
                since=at_ms,
                limit=1,
            )
            for row in batch if isinstance(batch, list) else []:
                if isinstance(row, list | tuple) and len(row) >= 2 and _number(row[0]) == at_ms:
                    price = _number(row[1])
                    if price is not None and price > 0:
                        opens[symbol] = price
        return opens

    def ticker(self, symbol: str, *, at: datetime | None = None) -> Ticker:
        """The exchange's live ticker of ``symbol``.

        Example: ``market.ticker("BTC/USDT").spread``.

        Raises
        ------
        ConfigurationError
            ``at`` is more than a minute away from ``now()``: an exchange only has the
            current ticker (use bars for the past).
        TemporaryError, DataError
            As for :meth:`bars`.
        """
        self._check_symbol(symbol)
        self._check_live(at)
        raw = self._call("fetch_ticker", f"fetch the ticker of {symbol}", symbol)
        return self._to_ticker(symbol, raw)

    def tickers(
        self, symbols: Iterable[str] | None = None, *, at: datetime | None = None
    ) -> dict[str, Ticker]:
        """Live tickers of many symbols (default all), in one ``fetch_tickers`` request when
        the exchange has it."""
        names = self.symbols() if symbols is None else list(symbols)
        for symbol in names:
            self._check_symbol(symbol)
        self._check_live(at)
        has = getattr(self._exchange, "has", {}) or {}
        if not (
            has.get("fetchTickers") and callable(getattr(self._exchange, "fetch_tickers", None))
        ):
            return {s: self.ticker(s) for s in names}
        raw = self._call("fetch_tickers", "fetch tickers", names)
        if not isinstance(raw, dict):
            raise DataError(f"{self.source}: fetch_tickers gave {type(raw).__name__}")
        missing = [s for s in names if s not in raw]
        if missing:
            raise DataError(f"{self.source}: fetch_tickers gave no ticker for {', '.join(missing)}")
        return {s: self._to_ticker(s, raw[s]) for s in names}

    # --- internals ------------------------------------------------------------------------

    def _call(self, method: str, what: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._exchange, method)(*args, **kwargs)
        except Exception as exc:
            message = f"{self.source}: could not {what}: {type(exc).__name__}: {exc}"
            if is_temporary(exc):
                raise TemporaryError(message) from exc
            raise DataError(message) from exc

    def _check_symbol(self, symbol: str) -> None:
        known = self.symbols()
        if symbol not in known:
            shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
            raise ConfigurationError(f"unknown symbol {symbol!r} on {self.source}; it has {shown}")

    def _check_live(self, at: datetime | None) -> None:
        if at is None:
            return
        gap = abs(as_utc(at, name="at") - as_utc(self._clock.now(), name="clock.now()"))
        if gap > _TICKER_TOLERANCE:
            raise ConfigurationError(
                f"{self.source} only has the current ticker, not one at {at.isoformat()}; "
                "use bars() for the past"
            )

    def _cap_ms(self, t: datetime | None) -> int:
        now = pd.Timestamp(as_utc(self._clock.now(), name="clock.now()")).value // 1_000_000
        if t is None:
            return int(now)
        return int(min(pd.Timestamp(as_utc(t, name="end")).value // 1_000_000, now))

    def _to_frame(self, rows: dict[int, list[Any]], step: int) -> pd.DataFrame:
        stamps = np.array(sorted(rows), dtype=np.int64)
        try:
            values = np.array([rows[int(s)][1:6] for s in stamps], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{self.source}: a bar has a value that is not a number ({exc})"
            ) from exc
        values = values.reshape(len(stamps), 5)
        if self._fill_gaps and len(stamps) > 1:
            stamps, values = _fill_gaps(stamps, values, step)
        index = pd.DatetimeIndex((stamps * _MS).view("M8[us]"), tz="UTC", name="timestamp")
        return pd.DataFrame(values, index=index, columns=list(BAR_COLUMNS))

    def _to_ticker(self, symbol: str, raw: Any) -> Ticker:
        if not isinstance(raw, dict):
            raise DataError(f"{symbol} in {self.source}: ticker is {type(raw).__name__}")
        last = _number(raw.get("last")) or _number(raw.get("close"))
        if last is None or not last > 0:
            raise DataError(f"{symbol} in {self.source}: ticker has no last price ({raw!r:.200})")
        bid = _number(raw.get("bid")) or last
        ask = _number(raw.get("ask")) or last
        quote_volume = _number(raw.get("quoteVolume"))
        if quote_volume is None:
            base_volume = _number(raw.get("baseVolume"))
            if base_volume is None:
                raise DataError(
                    f"{symbol} in {self.source}: ticker has no quoteVolume or baseVolume"
                )
            quote_volume = base_volume * (_number(raw.get("vwap")) or last)
        stamp = _number(raw.get("timestamp"))
        at = (
            pd.Timestamp(int(stamp), unit="ms", tz="UTC").to_pydatetime()
            if stamp is not None
            else as_utc(self._clock.now(), name="clock.now()")
        )
        return Ticker(
            symbol=symbol, at=at, last=last, bid=bid, ask=ask, quote_volume_24h=quote_volume
        )


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` when it is missing or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _fill_gaps(stamps: np.ndarray, values: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Insert flat, zero-volume bars at the previous close where bars are missing."""
    if (np.diff(stamps) == step).all() or ((stamps - stamps[0]) % step != 0).any():
        return stamps, values  # nothing to fill, or misaligned: let validation say so
    full = np.arange(stamps[0], stamps[-1] + step, step, dtype=np.int64)
    position = (stamps - stamps[0]) // step
    filled = np.full((len(full), 5), np.nan)
    filled[position] = values
    have = np.zeros(len(full), dtype=bool)
    have[position] = True
    source = np.maximum.accumulate(np.where(have, np.arange(len(full)), 0))
    close = values[:, 3][np.searchsorted(position, source)]
    missing = ~have
    filled[missing, :4] = close[missing, None]
    filled[missing, 4] = 0.0
    return full, filled
