"""FileMarket: Freqtrade, Binance kline and plain files, validated on load and replayed."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.errors import ConfigurationError, DataError
from components.market import (
    FileMarket,
    ManualClock,
    MarketData,
    NaiveTimeWarning,
    SimulatedClock,
)
from components.market.files import symbol_from_name
from components.market.validation import find_gaps

from .builders import forex_hours, make_bars

HOUR_US = 3_600_000_000


FROM_1H = ["1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"]
"""The timeframes whole hours make up."""


def write_freqtrade(folder: Path, name: str, bars: pd.DataFrame, *, epoch_ms: bool = False) -> Path:
    table = bars.reset_index().rename(columns={"timestamp": "date"})
    if epoch_ms:
        table["date"] = bars.index.asi8 // 1_000
    path = folder / name
    if name.endswith(".feather"):
        table.to_feather(path)
    elif name.endswith(".parquet"):
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False)
    return path


def write_binance(
    folder: Path, name: str, bars: pd.DataFrame, *, unit: str = "ms", header: bool = False
) -> Path:
    """A data.binance.vision kline CSV: 12 columns, open and close times in ms or us."""
    scale = 1_000 if unit == "ms" else 1
    open_time = bars.index.asi8 // scale
    step = (HOUR_US if len(bars) < 2 else int(bars.index.asi8[1] - bars.index.asi8[0])) // scale
    table = pd.DataFrame(
        {
            "open_time": open_time,
            "open": bars["open"],
            "high": bars["high"],
            "low": bars["low"],
            "close": bars["close"],
            "volume": bars["volume"],
            "close_time": open_time + step - 1,
            "quote_volume": bars["volume"] * bars["close"],
            "count": 1_000,
            "taker_buy_volume": bars["volume"] / 2,
            "taker_buy_quote_volume": bars["volume"] * bars["close"] / 2,
            "ignore": 0,
        }
    )
    path = folder / name
    table.to_csv(path, index=False, header=header)
    return path


def assert_same_bars(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(result, expected, check_freq=False)


def test_reads_a_freqtrade_feather_file(tmp_path: Path) -> None:
    bars = make_bars(48)
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)

    market = FileMarket(tmp_path)

    assert isinstance(market, MarketData)
    assert market.symbols() == ["BTC/USDT"]
    assert_same_bars(market.bars("BTC/USDT", "1h", limit=1_000), bars)


def test_reads_freqtrade_dates_given_as_epoch_milliseconds(tmp_path: Path) -> None:
    bars = make_bars(30)
    write_freqtrade(tmp_path, "ETH_USDT-1h.feather", bars, epoch_ms=True)

    assert_same_bars(FileMarket(tmp_path).bars("ETH/USDT", limit=1_000), bars)


def test_reads_a_freqtrade_json_file(tmp_path: Path) -> None:
    bars = make_bars(20)
    rows = [
        [int(t // 1_000), *values]
        for t, values in zip(bars.index.asi8, bars.to_numpy().tolist(), strict=True)
    ]
    (tmp_path / "SOL_USDT-1h.json").write_text(json.dumps(rows))

    assert_same_bars(FileMarket(tmp_path).bars("SOL/USDT", limit=1_000), bars)


def test_reads_freqtrade_futures_files_as_perpetual_symbols(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT_USDT-1h-futures.feather", make_bars(10))
    write_freqtrade(tmp_path, "BTC_USDT_USDT-1h-mark.feather", make_bars(10, seed=3))

    market = FileMarket(tmp_path)

    assert market.symbols() == ["BTC/USDT:USDT"]
    assert [s.path.name for s in market.skipped] == ["BTC_USDT_USDT-1h-mark.feather"]


def test_joins_several_monthly_binance_kline_files_of_one_symbol(tmp_path: Path) -> None:
    bars = make_bars(744 + 696, start="2024-01-01")
    write_binance(tmp_path, "BTCUSDT-1h-2024-02.csv", bars.iloc[744:])
    write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", bars.iloc[:744])

    market = FileMarket(tmp_path)

    assert market.symbols() == ["BTC/USDT"]
    assert_same_bars(market.bars("BTC/USDT", limit=5_000), bars)


def test_reads_binance_files_in_microseconds_from_2025_next_to_older_ones_in_ms(
    tmp_path: Path,
) -> None:
    bars = make_bars(31 * 24 * 2, start="2024-12-01")
    write_binance(tmp_path, "ETHUSDT-1h-2024-12.csv", bars.iloc[: 31 * 24], unit="ms")
    write_binance(tmp_path, "ETHUSDT-1h-2025-01.csv", bars.iloc[31 * 24 :], unit="us")

    assert_same_bars(FileMarket(tmp_path).bars("ETH/USDT", limit=5_000), bars)


def test_reads_binance_files_with_a_header_row_and_zipped_ones(tmp_path: Path) -> None:
    bars = make_bars(48, timeframe="5m")
    write_binance(tmp_path, "SOLBTC-5m-2024-01-01.csv", bars.iloc[:24], header=True)
    inner = write_binance(tmp_path, "SOLBTC-5m-2024-01-02.csv", bars.iloc[24:])
    with zipfile.ZipFile(tmp_path / "SOLBTC-5m-2024-01-02.zip", "w") as archive:
        archive.write(inner, inner.name)
    inner.unlink()

    market = FileMarket(tmp_path)

    assert market.symbols() == ["SOL/BTC"]
    assert_same_bars(market.bars("SOL/BTC", "5m", limit=1_000), bars)


def test_reads_a_plain_parquet_with_a_timestamp_column_and_infers_the_timeframe(
    tmp_path: Path,
) -> None:
    bars = make_bars(40, timeframe="15m")
    bars.reset_index().to_parquet(tmp_path / "XRP_USDT.parquet")

    market = FileMarket(tmp_path)

    assert market.timeframes("XRP/USDT") == ["15m", "30m", *FROM_1H]
    assert_same_bars(market.bars("XRP/USDT", "15m", limit=1_000), bars)


def test_reads_a_parquet_indexed_by_time(tmp_path: Path) -> None:
    bars = make_bars(12)
    bars.to_parquet(tmp_path / "ADA_USDT-1h.parquet")

    assert_same_bars(FileMarket(tmp_path).bars("ADA/USDT", limit=100), bars)


def test_reads_a_plain_csv_with_iso_times_in_a_time_column(tmp_path: Path) -> None:
    bars = make_bars(24)
    table = bars.reset_index()
    table.insert(0, "Time", bars.index.strftime("%Y-%m-%dT%H:%M:%SZ"))
    table = table.drop(columns="timestamp").rename(columns=str.capitalize)
    table.to_csv(tmp_path / "DOGEUSDT-1h.csv", index=False)

    bars_read = FileMarket(tmp_path).bars("DOGE/USDT", limit=100)

    pd.testing.assert_frame_equal(bars_read, bars, check_freq=False, rtol=1e-12)


def test_a_bad_file_raises_data_error_naming_the_file_and_first_bad_row(tmp_path: Path) -> None:
    bars = make_bars(48)
    bars.iloc[17, 1] = bars.iloc[17, 2] * 0.5  # high below low
    path = write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)

    with pytest.raises(DataError) as info:
        FileMarket(tmp_path)

    assert str(info.value).startswith(f"BTC/USDT in {path} row 17 (2024-01-01 17:00 UTC): high ")


def test_a_gap_between_monthly_files_is_kept_as_a_gap(tmp_path: Path) -> None:
    bars = make_bars(24 * 3, start="2024-01-30")
    write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", bars.iloc[:30])
    write_binance(tmp_path, "BTCUSDT-1h-2024-02.csv", bars.iloc[48:])

    read = FileMarket(tmp_path).bars("BTC/USDT", limit=1_000)

    expected = pd.concat([bars.iloc[:30], bars.iloc[48:]])
    assert_same_bars(read, expected)  # nothing invented
    assert find_gaps(read, "1h").describe() == (
        "1 gap, 18 missing 1h bars (largest 18 after 2024-01-31 05:00 UTC)"
    )


def test_a_gap_between_monthly_files_names_the_later_file_when_refused(tmp_path: Path) -> None:
    bars = make_bars(24 * 3, start="2024-01-30")
    write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", bars.iloc[:30])
    later = write_binance(tmp_path, "BTCUSDT-1h-2024-02.csv", bars.iloc[48:])

    with pytest.raises(DataError) as info:
        FileMarket(tmp_path, gaps="refuse")

    assert str(info.value) == (
        f"BTC/USDT in {later} row 0 (2024-02-01 00:00 UTC): "
        "gap: 18 missing 1h bars after 2024-01-31 05:00 UTC"
    )


def test_overlapping_files_of_one_symbol_raise_naming_both(tmp_path: Path) -> None:
    bars = make_bars(48)
    first = write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)
    second = write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", bars.iloc[40:])

    with pytest.raises(DataError, match="overlaps") as info:
        FileMarket(tmp_path)

    assert str(first) in str(info.value) and str(second) in str(info.value)


def test_an_unreadable_file_raises_data_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "BTC_USDT-1h.feather").write_bytes(b"not a feather file")

    with pytest.raises(DataError, match=r"BTC_USDT-1h\.feather: cannot read the file"):
        FileMarket(tmp_path)


def test_a_file_without_a_time_column_raises_naming_it(tmp_path: Path) -> None:
    make_bars(5).reset_index(drop=True).to_csv(tmp_path / "BTC_USDT-1h.csv", index=False)

    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv: no time column"):
        FileMarket(tmp_path)


def test_default_clock_stands_at_the_close_of_the_last_bar(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(48))
    write_freqtrade(tmp_path, "ETH_USDT-1h.feather", make_bars(24))

    market = FileMarket(tmp_path)

    assert market.now() == datetime(2024, 1, 3, tzinfo=UTC)
    assert market.bars("BTC/USDT", limit=1).index[-1] == pd.Timestamp("2024-01-02 23:00", tz="UTC")


def test_replays_from_a_start_with_a_simulated_clock(tmp_path: Path) -> None:
    bars = make_bars(48)
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)
    real = [0.0]
    start = datetime(2024, 1, 1, 12, 30, tzinfo=UTC)
    clock = SimulatedClock(start, speed=3_600, monotonic=lambda: real[0])
    market = FileMarket(tmp_path, clock=clock)

    first = market.bars("BTC/USDT", limit=1_000)
    real[0] = 3.0  # three simulated hours later
    later = market.bars("BTC/USDT", limit=1_000)

    assert first.index[-1] == pd.Timestamp("2024-01-01 11:00", tz="UTC")
    assert later.index[-1] == pd.Timestamp("2024-01-01 14:00", tz="UTC")
    assert_same_bars(later, bars.iloc[:15])


def test_coarser_timeframes_are_aggregated_from_finer_files(tmp_path: Path) -> None:
    bars = make_bars(24 * 3, start="2024-01-01 02:00")  # to 2024-01-04 02:00, both ends ragged
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)
    market = FileMarket(tmp_path)

    four = market.bars("BTC/USDT", "4h", limit=100)
    daily = market.bars("BTC/USDT", "1d", limit=100)

    assert four.index[0] == pd.Timestamp("2024-01-01 04:00", tz="UTC")
    assert four.index[-1] == pd.Timestamp("2024-01-03 20:00", tz="UTC")  # 00:00 is incomplete
    first_group = bars.loc["2024-01-01 04:00":"2024-01-01 07:00"]
    assert four.iloc[0].tolist() == [
        first_group["open"].iloc[0],
        first_group["high"].max(),
        first_group["low"].min(),
        first_group["close"].iloc[-1],
        pytest.approx(first_group["volume"].sum()),
    ]
    assert list(daily.index) == [pd.Timestamp(d, tz="UTC") for d in ("2024-01-02", "2024-01-03")]


def test_a_timeframe_the_files_cannot_give_is_a_configuration_error(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))

    with pytest.raises(ConfigurationError, match="no 5m bars"):
        FileMarket(tmp_path).bars("BTC/USDT", "5m")


def test_ticker_is_derived_from_the_bars(tmp_path: Path) -> None:
    bars = make_bars(48)
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", bars)
    market = FileMarket(tmp_path, spread_bps=10)

    ticker = market.ticker("BTC/USDT")
    last_day = bars.iloc[-24:]

    assert ticker.at == datetime(2024, 1, 3, tzinfo=UTC)
    assert ticker.last == bars["close"].iloc[-1]
    assert ticker.quote_volume_24h == pytest.approx((last_day["volume"] * last_day["close"]).sum())
    assert ticker.spread == pytest.approx(10e-4)


def test_ticker_before_any_bar_closed_is_a_data_error(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))
    market = FileMarket(tmp_path, clock=ManualClock(datetime(2023, 1, 1, tzinfo=UTC)))

    with pytest.raises(DataError, match="no 1h bar closed by"):
        market.ticker("BTC/USDT")


def test_files_that_are_not_bars_are_skipped_with_a_reason(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))
    (tmp_path / "README.md").write_text("notes")
    write_freqtrade(tmp_path, "BTC_USDT-2w.feather", make_bars(3, timeframe="1d"))

    market = FileMarket(tmp_path)

    reasons = {s.path.name: s.reason for s in market.skipped}
    assert set(reasons) == {"README.md", "BTC_USDT-2w.feather"}
    assert "timeframe 2w" in reasons["BTC_USDT-2w.feather"]


def test_only_the_timeframes_asked_for_are_read(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))
    write_freqtrade(tmp_path, "BTC_USDT-5m.feather", make_bars(10, timeframe="5m"))

    market = FileMarket(tmp_path, timeframes=["1h"])

    assert market.timeframes("BTC/USDT") == FROM_1H


def test_a_folder_with_no_bars_or_no_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no OHLCV files"):
        FileMarket(tmp_path)
    with pytest.raises(ConfigurationError, match="does not exist"):
        FileMarket(tmp_path / "missing")


def test_an_unknown_symbol_is_a_configuration_error(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))

    with pytest.raises(ConfigurationError, match="no files for 'ETH/USDT'"):
        FileMarket(tmp_path).bars("ETH/USDT")


def test_span_gives_the_first_open_and_last_close(tmp_path: Path) -> None:
    write_freqtrade(tmp_path, "BTC_USDT-1h.feather", make_bars(10))

    first, last = FileMarket(tmp_path).span("BTC/USDT")

    assert (first, last) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 10, tzinfo=UTC))
    assert last - first == timedelta(hours=10)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("BTC_USDT", "BTC/USDT"),
        ("BTCUSDT", "BTC/USDT"),
        ("ETHBTC", "ETH/BTC"),
        ("SOLUSDC", "SOL/USDC"),
        ("DOGEBUSD", "DOGE/BUSD"),
        ("BTCFDUSD", "BTC/FDUSD"),
        ("BTC_USDT_USDT", "BTC/USDT:USDT"),
        ("WEIRD", "WEIRD"),
    ],
)
def test_symbols_come_from_file_names(name: str, symbol: str) -> None:
    assert symbol_from_name(name) == symbol


def test_file_bars_keep_the_contract_layout(tmp_path: Path) -> None:
    write_binance(tmp_path, "BTCUSDT-1h-2024-01.csv", make_bars(24))

    bars = FileMarket(tmp_path).bars("BTC/USDT")

    assert str(bars.index.dtype) == "datetime64[us, UTC]"
    assert bars.index.name == "timestamp"
    assert list(bars.dtypes) == [np.dtype("float64")] * 5


def test_an_unreadable_time_raises_naming_the_file_and_row(tmp_path: Path) -> None:
    table = make_bars(3).reset_index()
    table["timestamp"] = ["2024-01-01 00:00", "2024-01-01 01:00", "soon"]
    table.to_csv(tmp_path / "BTC_USDT-1h.csv", index=False)

    with pytest.raises(DataError, match=r"BTC_USDT-1h\.csv row 2: cannot read the time 'soon'"):
        FileMarket(tmp_path)


def test_naive_times_in_a_file_are_taken_as_utc(tmp_path: Path) -> None:
    bars = make_bars(6)
    table = bars.reset_index().rename(columns={"timestamp": "date"})
    table["date"] = table["date"].dt.tz_localize(None)
    table.to_parquet(tmp_path / "BTC_USDT-1h.parquet")

    with pytest.warns(NaiveTimeWarning, match="times have no time zone; read as UTC"):
        market = FileMarket(tmp_path)

    assert_same_bars(market.bars("BTC/USDT"), bars)


def test_forex_hours_with_weekend_gaps_read_and_aggregate_without_invented_bars(
    tmp_path: Path,
) -> None:
    hours = forex_hours(weeks=3)
    hours.reset_index().rename(columns={"timestamp": "date"}).to_csv(
        tmp_path / "EUR_USD-1h.csv", index=False
    )

    market = FileMarket(tmp_path)
    read = market.bars("EUR/USD", "1h", limit=10_000)
    days = market.bars("EUR/USD", "1d", limit=100)

    assert_same_bars(read, hours)
    assert set(days.index.day_of_week) == {0, 1, 2, 3, 4}  # no Saturday or Sunday bar
    friday = days.index[4]
    assert days.loc[friday, "close"] == hours["close"][hours.index.normalize() == friday].iloc[-1]


def test_monthly_bars_read_from_a_file_and_from_days(tmp_path: Path) -> None:
    months = make_bars(24, timeframe="1M")
    months.reset_index().to_csv(tmp_path / "BTC_USDT.csv", index=False)
    days = make_bars(91, timeframe="1d", start="2024-01-01")
    write_freqtrade(tmp_path, "ETH_USDT-1d.feather", days)

    market = FileMarket(tmp_path)

    assert_same_bars(market.bars("BTC/USDT", "1M", limit=100), months)
    monthly = market.bars("ETH/USDT", "1M", limit=100)
    assert list(monthly.index.month) == [1, 2, 3]  # Jan, Feb, Mar: 31 + 29 + 31 = 91 days
    assert monthly["volume"].iloc[1] == pytest.approx(days["volume"].iloc[31:60].sum())


def test_a_reversed_file_is_named_as_reversed(tmp_path: Path) -> None:
    bars = make_bars(24)
    path = tmp_path / "BTC_USDT-1h.csv"
    bars.iloc[::-1].reset_index().to_csv(path, index=False)

    with pytest.raises(DataError, match=r"reverse time order \(newest first"):
        FileMarket(tmp_path)


def test_blocks_hold_the_bars_of_each_symbol_grouped_by_their_times(tmp_path: Path) -> None:
    bars = make_bars(24 * 3, start="2024-01-30")
    for name in ("BTC", "ETH"):
        write_freqtrade(tmp_path, f"{name}_USDT-1h.feather", bars)
    write_freqtrade(tmp_path, "SOL_USDT-1h.feather", bars.iloc[10:])  # shorter
    write_binance(tmp_path, "XRPUSDT-1h-2024-01.csv", bars.iloc[:30])  # a gap inside
    write_binance(tmp_path, "XRPUSDT-1h-2024-02.csv", bars.iloc[48:])
    market = FileMarket(tmp_path)
    names = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]

    read = market.bars_block(names, "1h", limit=70)  # more than SOL's and XRP's bars

    assert sorted(b.symbols for b in read.blocks) == [
        ("BTC/USDT", "ETH/USDT"),
        ("SOL/USDT",),
        ("XRP/USDT",),
    ]
    for timeframe, limit in (("1h", 70), ("1h", 20), ("4h", 12), ("1d", 5)):
        read = market.bars_block(names, timeframe, limit=limit)
        assert sorted(s for b in read.blocks for s in b.symbols) == names
        for block in read.blocks:
            for symbol in block.symbols:
                expected = market.bars(symbol, timeframe, limit=limit)
                np.testing.assert_array_equal(block.frame(symbol).to_numpy(), expected.to_numpy())
                assert block.frame(symbol).index.equals(expected.index)


def test_the_open_of_the_forming_bar_is_read_only_once_the_clock_reaches_it(
    tmp_path: Path,
) -> None:
    bars = make_bars(48)
    bars.to_parquet(tmp_path / "ADA_USDT-1h.parquet")
    forming = bars.index[10].to_pydatetime()
    market = FileMarket(tmp_path, clock=ManualClock(forming + timedelta(minutes=20)))

    assert market.bar_opens(["ADA/USDT"], "1h", forming) == {"ADA/USDT": bars["open"].iloc[10]}
    assert market.bar_opens(["ADA/USDT"], "1h", forming + timedelta(hours=1)) == {}
    assert market.bar_opens(["ADA/USDT"], "1h", forming + timedelta(minutes=30)) == {}
