"""CcxtMarket over a fake exchange replaying recorded Binance responses (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from components.errors import ConfigurationError, DataError, TemporaryError
from components.market import CcxtMarket, ManualClock, MarketData
from components.market.ccxt_market import is_temporary

DATA = Path(__file__).parent / "data"
RECORDED_AT = datetime(2024, 3, 2, 0, 20, tzinfo=UTC)  # when the fixtures were "recorded"


# The parts of ccxt's error tree the adapter cares about, by name (as in ccxt.base.errors).
class BaseError(Exception):
    pass


class ExchangeError(BaseError):
    pass


class BadSymbol(ExchangeError):
    pass


class OperationFailed(BaseError):
    pass


class NetworkError(OperationFailed):
    pass


class DDoSProtection(NetworkError):
    pass


class RateLimitExceeded(NetworkError):  # under DDoSProtection before ccxt 4.2
    pass


class ExchangeNotAvailable(NetworkError):
    pass


class OnMaintenance(ExchangeNotAvailable):
    pass


class RequestTimeout(NetworkError):
    pass


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


class RecordedExchange:
    """Replays recorded responses the way ccxt's binance would, page by page."""

    id = "binance"
    has: ClassVar[dict[str, bool]] = {"fetchOHLCV": True, "fetchTickers": True}

    def __init__(self, *, page_size: int = 1_000, fail_with: Exception | None = None) -> None:
        self.ohlcv: list[list[float]] = recorded("binance_btc_usdt_1h_ohlcv.json")
        self.tickers: dict[str, Any] = recorded("binance_tickers.json")
        self.page_size = page_size
        self.fail_with = fail_with
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def load_markets(self) -> dict[str, dict[str, Any]]:
        self._maybe_fail()
        return {
            "BTC/USDT": {"symbol": "BTC/USDT", "active": True, "spot": True},
            "ETH/USDT": {"symbol": "ETH/USDT", "active": True, "spot": True},
            "LUNA/USDT": {"symbol": "LUNA/USDT", "active": False, "spot": True},
            "BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "active": True, "spot": False},
        }

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        self.calls.append(("fetch_ohlcv", {"symbol": symbol, "since": since, "limit": limit}))
        self._maybe_fail()
        rows = [r for r in self.ohlcv if since is None or r[0] is None or r[0] >= since]
        return [list(r) for r in rows[: min(limit or self.page_size, self.page_size)]]

    def fetch_ticker(self, symbol: str) -> dict[str, Any]:
        self.calls.append(("fetch_ticker", {"symbol": symbol}))
        self._maybe_fail()
        return dict(self.tickers[symbol])

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, Any]:
        self.calls.append(("fetch_tickers", {"symbols": symbols}))
        self._maybe_fail()
        return {s: dict(t) for s, t in self.tickers.items() if symbols is None or s in symbols}


def market_of(exchange: RecordedExchange, **kwargs: Any) -> CcxtMarket:
    return CcxtMarket(exchange, clock=ManualClock(RECORDED_AT), **kwargs)


def test_a_ccxt_market_is_market_data() -> None:
    assert isinstance(market_of(RecordedExchange()), MarketData)


def test_bars_come_from_fetch_ohlcv_without_the_candle_still_open() -> None:
    exchange = RecordedExchange()

    bars = market_of(exchange).bars("BTC/USDT", "1h", limit=1_000)

    assert len(bars) == 24  # 25 recorded; 2024-03-02 00:00 was still open at 00:20
    assert bars.index[0] == pd.Timestamp("2024-03-01 00:00", tz="UTC")
    assert bars.index[-1] == pd.Timestamp("2024-03-01 23:00", tz="UTC")
    assert bars.iloc[0].tolist() == exchange.ohlcv[0][1:]
    assert str(bars.index.dtype) == "datetime64[us, UTC]"


def test_bars_returns_the_last_limit_closed_bars() -> None:
    bars = market_of(RecordedExchange()).bars("BTC/USDT", "1h", limit=5)

    assert list(bars.index.hour) == [19, 20, 21, 22, 23]


def test_bars_page_through_an_exchange_that_gives_few_bars_per_request() -> None:
    exchange = RecordedExchange(page_size=7)

    bars = market_of(exchange).bars("BTC/USDT", "1h", limit=24)

    assert len(bars) == 24
    assert len(exchange.calls) == 4
    assert exchange.calls[0][1]["since"] == 1709251200000  # 2024-03-01 00:00 in ms


def test_a_later_cycle_asks_the_exchange_only_for_the_bars_closed_since() -> None:
    exchange = RecordedExchange()
    clock = ManualClock(datetime(2024, 3, 1, 12, 20, tzinfo=UTC))
    market = CcxtMarket(exchange, clock=clock)
    market.bars("BTC/USDT", "1h", limit=6)
    exchange.calls.clear()

    clock.advance(timedelta(hours=3))
    later = market.bars("BTC/USDT", "1h", limit=6)

    assert [c[1]["since"] for c in exchange.calls] == [1709294400000]  # 12:00, after 11:00
    fresh = CcxtMarket(RecordedExchange(), clock=ManualClock(clock.now()))
    pd.testing.assert_frame_equal(later, fresh.bars("BTC/USDT", "1h", limit=6))
    exchange.calls.clear()
    assert market.bars("BTC/USDT", "1h", limit=3).equals(later.iloc[-3:])
    assert exchange.calls == []  # nothing new has closed


def test_bars_up_to_an_earlier_end() -> None:
    end = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)

    bars = market_of(RecordedExchange()).bars("BTC/USDT", "1h", limit=3, end=end)

    assert list(bars.index.hour) == [9, 10, 11]


def test_holes_left_by_the_exchange_are_filled_with_flat_bars() -> None:
    exchange = RecordedExchange()
    del exchange.ohlcv[10:12]

    bars = market_of(exchange).bars("BTC/USDT", "1h", limit=24)

    assert len(bars) == 24
    previous_close = exchange.ohlcv[9][4]
    assert bars.iloc[10].tolist() == [previous_close] * 4 + [0.0]


def test_holes_raise_data_error_when_filling_is_off() -> None:
    exchange = RecordedExchange()
    del exchange.ohlcv[10:12]

    with pytest.raises(DataError, match="gap: 2 missing 1h bars"):
        market_of(exchange, fill_gaps=False).bars("BTC/USDT", "1h", limit=24)


def test_bad_bars_from_the_exchange_raise_data_error_naming_the_exchange_and_row() -> None:
    exchange = RecordedExchange()
    exchange.ohlcv[5][2] = exchange.ohlcv[5][3] - 1  # high below low

    with pytest.raises(DataError) as info:
        market_of(exchange).bars("BTC/USDT", "1h", limit=24)

    assert str(info.value).startswith("BTC/USDT in ccxt:binance row 5 (2024-03-01 05:00 UTC): high")


def test_a_malformed_bar_from_the_exchange_is_a_data_error() -> None:
    exchange = RecordedExchange()
    exchange.ohlcv[3] = [None, 1.0, 1.0, 1.0, 1.0, 1.0]

    with pytest.raises(DataError, match=r"is not \[time, open, high, low, close, volume\]"):
        market_of(exchange).bars("BTC/USDT", "1h", limit=24)


@pytest.mark.parametrize(
    "error",
    [
        RequestTimeout("binance GET https://api.binance.com/api/v3/klines 10000ms"),
        NetworkError("binance GET https://api.binance.com/api/v3/klines"),
        ExchangeNotAvailable("binance 503 Service Unavailable"),
        OnMaintenance("binance system maintenance"),
        DDoSProtection("binance 418 I'm a teapot"),
        RateLimitExceeded("binance 429 Too Many Requests"),
        TimeoutError("read timed out"),
    ],
)
def test_network_errors_become_temporary_errors(error: Exception) -> None:
    market = market_of(RecordedExchange(fail_with=error), symbols=["BTC/USDT"])

    with pytest.raises(TemporaryError, match="ccxt:binance: could not fetch 1h bars of BTC/USDT"):
        market.bars("BTC/USDT", "1h")
    with pytest.raises(TemporaryError):
        market.ticker("BTC/USDT")
    assert is_temporary(error)


@pytest.mark.parametrize(
    "error",
    [
        BadSymbol("binance does not have market symbol XYZ/USDT"),
        ExchangeError("bad"),
        KeyError("x"),
    ],
)
def test_other_exchange_errors_become_data_errors(error: Exception) -> None:
    market = market_of(RecordedExchange(fail_with=error), symbols=["BTC/USDT"])

    with pytest.raises(DataError, match="ccxt:binance: could not fetch 1h bars"):
        market.bars("BTC/USDT", "1h")
    assert not is_temporary(error)


def test_symbols_are_the_active_spot_markets_by_default() -> None:
    assert market_of(RecordedExchange()).symbols() == ["BTC/USDT", "ETH/USDT"]


def test_an_unknown_symbol_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unknown symbol 'LUNA/USDT'"):
        market_of(RecordedExchange()).bars("LUNA/USDT")


def test_ticker_comes_from_fetch_ticker() -> None:
    ticker = market_of(RecordedExchange()).ticker("BTC/USDT")
    raw = recorded("binance_btc_usdt_ticker.json")

    assert ticker.symbol == "BTC/USDT"
    assert ticker.at == datetime(2024, 3, 2, 0, 20, 0, 123_000, tzinfo=UTC)
    assert (ticker.last, ticker.bid, ticker.ask) == (raw["last"], raw["bid"], raw["ask"])
    assert ticker.quote_volume_24h == raw["quoteVolume"]
    assert 0 < ticker.spread < 1e-5


def test_ticker_without_quote_volume_uses_base_volume_times_vwap() -> None:
    exchange = RecordedExchange()
    exchange.tickers["BTC/USDT"]["quoteVolume"] = None

    ticker = market_of(exchange).ticker("BTC/USDT")

    raw = exchange.tickers["BTC/USDT"]
    assert ticker.quote_volume_24h == pytest.approx(raw["baseVolume"] * raw["vwap"])


def test_ticker_without_a_last_price_is_a_data_error() -> None:
    exchange = RecordedExchange()
    exchange.tickers["BTC/USDT"].update(last=None, close=None)

    with pytest.raises(DataError, match="no last price"):
        market_of(exchange).ticker("BTC/USDT")


def test_tickers_come_in_one_fetch_tickers_request() -> None:
    exchange = RecordedExchange()

    tickers = market_of(exchange).tickers(["BTC/USDT", "ETH/USDT"])

    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    assert tickers["ETH/USDT"].last == 3421.38
    assert [name for name, _ in exchange.calls] == ["fetch_tickers"]


def test_a_ticker_from_the_past_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="only has the current ticker"):
        market_of(RecordedExchange()).ticker("BTC/USDT", at=RECORDED_AT - timedelta(days=1))


def test_an_object_without_fetch_ohlcv_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no fetch_ohlcv"):
        CcxtMarket(object())


def test_the_open_of_the_forming_candle_comes_from_one_fetch_per_symbol() -> None:
    exchange = RecordedExchange()
    market = market_of(exchange)  # at 00:20, the 00:00 candle is forming
    forming = datetime(2024, 3, 2, tzinfo=UTC)

    assert market.bar_opens(["BTC/USDT"], "1h", forming) == {"BTC/USDT": exchange.ohlcv[24][1]}
    assert exchange.calls[-1] == (
        "fetch_ohlcv",
        {"symbol": "BTC/USDT", "since": int(forming.timestamp() * 1000), "limit": 1},
    )
    calls = len(exchange.calls)
    assert market.bar_opens(["BTC/USDT"], "1h", forming + timedelta(hours=1)) == {}  # not yet
    assert len(exchange.calls) == calls
