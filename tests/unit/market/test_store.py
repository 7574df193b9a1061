"""Real data in: files of the common layouts imported into the BarStore, gaps and all."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from components.backtest import Backtester
from components.errors import ConfigurationError, DataError
from components.market import FileMarket, NaiveTimeWarning
from components.market.store import BarStore
from components.strategies import create_strategy

from .builders import forex_hours, make_bars
from .test_files import assert_same_bars, write_binance, write_freqtrade


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore.under(tmp_path / "home")


def plain_csv(path: Path, bars: pd.DataFrame, time: pd.Series | pd.Index) -> Path:
    table = bars.reset_index(drop=True)
    table.insert(0, "time", list(time))
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("unit", "to_time"),
    [
        ("seconds", lambda ix: ix.asi8 // 1_000_000),
        ("milliseconds", lambda ix: ix.asi8 // 1_000),
        ("ISO text", lambda ix: ix.strftime("%Y-%m-%dT%H:%M:%S+00:00")),
    ],
)
def test_a_csv_with_times_in_seconds_milliseconds_or_iso_imports_the_same_bars(
    tmp_path: Path, store: BarStore, unit: str, to_time: object
) -> None:
    bars = make_bars(48)
    path = plain_csv(tmp_path / "BTC_USDT-1h.csv", bars, to_time(bars.index))  # type: ignore[operator]

    imported = store.import_file(path)

    assert (imported.symbol, imported.timeframe, imported.added) == ("BTC/USDT", "1h", 48)
    assert_same_bars(store.read("BTC/USDT", "1h"), bars)  # type: ignore[arg-type]


def test_binance_kline_csv_freqtrade_json_feather_and_parquet_import(
    tmp_path: Path, store: BarStore
) -> None:
    bars = make_bars(30)
    write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", bars)
    write_freqtrade(tmp_path, "ETH_USDT-1h.feather", bars)
    write_freqtrade(tmp_path, "SOL_USDT-1h.parquet", bars)
    rows = [
        [int(t // 1_000), *v]
        for t, v in zip(bars.index.asi8, bars.to_numpy().tolist(), strict=True)
    ]
    (tmp_path / "XRP_USDT-1h.json").write_text(json.dumps(rows))

    for name in (
        "BTCUSDT-1h-2024-01.csv",
        "ETH_USDT-1h.feather",
        "SOL_USDT-1h.parquet",
        "XRP_USDT-1h.json",
    ):
        store.import_file(tmp_path / name)

    assert [(c.symbol, c.timeframe, c.bars) for c in store.coverage()] == [
        ("BTC/USDT", "1h", 30),
        ("ETH/USDT", "1h", 30),
        ("SOL/USDT", "1h", 30),
        ("XRP/USDT", "1h", 30),
    ]
    for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"):
        assert_same_bars(store.read(symbol, "1h"), bars)  # type: ignore[arg-type]
    assert (store.root / "BTC_USDT-1h.parquet").exists()


def test_a_forex_hourly_file_with_weekend_gaps_imports_and_backtests_inventing_no_bar(
    tmp_path: Path, store: BarStore
) -> None:
    hours = forex_hours(weeks=8)
    path = plain_csv(tmp_path / "EURUSD.csv", hours, hours.index.strftime("%Y-%m-%d %H:%M"))

    with pytest.warns(NaiveTimeWarning, match="no time zone; read as UTC"):
        imported = store.import_file(path, symbol="EUR/USD")
    stored = store.read("EUR/USD", "1h")
    result = Backtester().run(
        create_strategy("sma_crossover", {"fast": 5, "slow": 20}), stored, symbol="EUR/USD"
    )

    assert imported.timeframe == "1h"
    assert len(imported.gaps.gaps) == 7 and imported.gaps.missing == 7 * 50
    assert imported.gaps.describe() == (
        "7 gaps, 350 missing 1h bars (largest 50 after 2024-01-05 21:00 UTC)"
    )
    assert_same_bars(stored, hours)  # type: ignore[arg-type]  # no bar invented or dropped
    assert result.equity.index.equals(hours.index)
    assert len(result.trades) > 0
    assert set(result.trades["entry_time"]) <= set(hours.index)
    assert set(result.trades["exit_time"]) <= set(hours.index)
    opens = hours["open"].to_numpy()
    entry_opens = opens[result.trades["entry_bar"].to_numpy()]
    ratio = result.trades["entry_price"].to_numpy() / entry_opens
    assert ((ratio > 0.99) & (ratio < 1.01)).all()  # every fill at a real bar's open


def test_a_monthly_file_imports_and_backtests(tmp_path: Path, store: BarStore) -> None:
    months = make_bars(60, timeframe="1M", start="2019-01-01")
    path = plain_csv(tmp_path / "SPX-1M.csv", months, months.index.strftime("%Y-%m-%dT00:00Z"))

    imported = store.import_file(path, symbol="SPX/USD")
    result = Backtester().run(
        create_strategy("sma_crossover", {"fast": 3, "slow": 12}),
        store.read("SPX/USD", "1M"),  # type: ignore[arg-type]
    )

    assert (imported.timeframe, imported.stored, imported.gaps.missing) == ("1M", 60, 0)
    assert result.config.periods_per_year == pytest.approx(12.0)
    assert len(result.equity) == 60


def test_the_store_is_a_market_the_file_market_replays(tmp_path: Path, store: BarStore) -> None:
    hours = forex_hours(weeks=2)
    store.write("EUR/USD", "1h", hours)

    market = FileMarket(store.root)

    assert_same_bars(market.bars("EUR/USD", "1h", limit=1_000), hours)


def test_a_second_import_merges_new_bars_win_and_nothing_is_lost(store: BarStore) -> None:
    bars = make_bars(48)
    store.write("BTC/USDT", "1h", bars.iloc[:30])
    changed = bars.iloc[20:].copy()
    changed["volume"] += 1.0

    merged = store.write("BTC/USDT", "1h", changed)

    assert len(merged) == 48
    assert (merged["volume"].iloc[20:] == changed["volume"]).all()
    assert (merged["volume"].iloc[:20] == bars["volume"].iloc[:20]).all()
    assert store.last_open("BTC/USDT", "1h") == bars.index[-1]


def test_a_reversed_file_is_refused_naming_the_order_and_nothing_is_written(
    tmp_path: Path, store: BarStore
) -> None:
    bars = make_bars(24)
    path = plain_csv(tmp_path / "BTC_USDT-1h.csv", bars.iloc[::-1], bars.index[::-1].asi8 // 1000)

    with pytest.raises(DataError, match="reverse time order"):
        store.import_file(path)

    assert store.coverage() == []


def test_an_unsorted_file_is_named_as_unsorted(tmp_path: Path, store: BarStore) -> None:
    bars = make_bars(24).iloc[[0, 1, 2, 4, 3, 5, 6]]
    path = plain_csv(tmp_path / "BTC_USDT-1h.csv", bars, bars.index.asi8 // 1000)

    with pytest.raises(DataError, match=r"row 4 \(2024-01-01 03:00 UTC\): unsorted"):
        store.import_file(path)


def test_gaps_can_be_refused_or_forward_filled_on_import(tmp_path: Path, store: BarStore) -> None:
    hours = forex_hours(weeks=2)
    path = plain_csv(tmp_path / "EUR_USD-1h.csv", hours, hours.index.asi8 // 1000)

    with pytest.raises(DataError, match="gap: 50 missing 1h bars after 2024-01-05 21:00 UTC"):
        store.import_file(path, gaps="refuse")
    filled = store.import_file(path, gaps="ffill")

    assert filled.stored == 11 * 24 + 22  # Monday 1st 00:00 to Friday 12th 21:00, all hours


def test_a_file_without_a_symbol_in_its_name_needs_one(tmp_path: Path, store: BarStore) -> None:
    path = plain_csv(tmp_path / "prices.txt", make_bars(5), make_bars(5).index.asi8 // 1000)

    with pytest.raises(ConfigurationError, match="pass the symbol"):
        store.import_file(path)
