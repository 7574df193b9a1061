"""data download: an exchange's klines into the BarStore, resumed, with progress, against
Binance's recorded kline responses replayed through ccxt's own HTTP layer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from components.errors import TemporaryError
from components.market.ccxt_market import ccxt_exchange_class
from components.market.download import download_bars
from components.market.store import BarStore
from tests.unit.execution.recorded_exchange import RecordedBinance, replayed

START = datetime(2024, 6, 1, tzinfo=UTC)
END = datetime(2024, 6, 4, tzinfo=UTC)  # the recording holds 72 hours, 3 of them missing


@pytest.fixture
def replay() -> RecordedBinance:
    return RecordedBinance()


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore.under(tmp_path)


def exchange(replay: RecordedBinance) -> object:
    return replayed(ccxt_exchange_class("binance", purpose="tests"), replay)


def test_a_download_pages_through_the_history_with_progress_and_reports_the_outage(
    replay: RecordedBinance, store: BarStore
) -> None:
    seen: list[tuple[int, int]] = []

    report = download_bars(
        exchange(replay), store, "BTC/USDT", "1h", since=START, until=END, page_size=20,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip

    assert (report.added, report.stored) == (69, 69)
    assert report.requests == replay.count("GET", "/api/v3/klines") == 4  # pages of 20
    assert report.gaps.describe() == (
        "1 gap, 3 missing 1h bars (largest 3 after 2024-06-02 05:00 UTC)"
    )
    assert seen[0] == (0, 72) and seen[-1] == (69, 72)
    bars = store.read("BTC/USDT", "1h")
    assert bars is not None and bars["open"].iloc[0] == 67_512.0


def test_a_second_download_resumes_after_the_last_stored_bar(
    replay: RecordedBinance, store: BarStore
) -> None:
    first = download_bars(
        exchange(replay), store, "BTC/USDT", "1h", since=START,
        until=datetime(2024, 6, 2, tzinfo=UTC),
    )  # fmt: skip
    replay.requests.clear()

    second = download_bars(exchange(replay), store, "BTC/USDT", "1h", since=START, until=END)

    assert first.stored == 24 and second.resumed_from == first_last(store, first.stored)
    asked = [r.params["startTime"] for r in replay.requests if r.path == "/api/v3/klines"]
    assert asked[0] == str(1717200000000 + 24 * 3_600_000)  # right after the stored bars
    assert second.added == 69 - 24 and second.stored == 69


def first_last(store: BarStore, count: int) -> object:
    bars = store.read("BTC/USDT", "1h")
    assert bars is not None
    return bars.index[count - 1]


def test_a_rate_limit_midway_keeps_what_was_stored_and_a_rerun_resumes(
    replay: RecordedBinance, store: BarStore
) -> None:
    ex = exchange(replay)
    download_bars(ex, store, "BTC/USDT", "1h", since=START, until=END, page_size=20,
                  max_requests=1)  # fmt: skip
    replay.fail_next.append((429, "error_too_many_requests.json"))

    with pytest.raises(TemporaryError, match="run the download again to resume"):
        download_bars(ex, store, "BTC/USDT", "1h", since=START, until=END, page_size=20)
    resumed = download_bars(ex, store, "BTC/USDT", "1h", since=START, until=END, page_size=20)

    assert resumed.stored == 69 and resumed.added == 49
