"""Bar blocks: many symbols' bars as (symbols x time) arrays, the same bars as the frames."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import DataError
from components.market import ManualClock, SyntheticMarket, default_symbols
from components.market.block import BarBlock, read_blocks

START = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
SYMBOLS = default_symbols(30)


def market_at(t: datetime, **kwargs: Any) -> SyntheticMarket:
    return SyntheticMarket(seed=7, symbols=SYMBOLS, clock=ManualClock(t), **kwargs)


@pytest.mark.parametrize(
    ("timeframe", "limit"), [("1m", 2000), ("5m", 300), ("15m", 200), ("1h", 700), ("1d", 40)]
)
def test_a_block_holds_exactly_the_bars_of_each_symbols_frame(timeframe: str, limit: int) -> None:
    market = market_at(START)

    (block,) = market.bars_block(SYMBOLS, timeframe, limit=limit).blocks
    frames = market_at(START).bars_many(SYMBOLS, timeframe, limit=limit)

    assert block.symbols == tuple(SYMBOLS)
    assert block.index.equals(frames["BTC/USDT"].index)
    for symbol in SYMBOLS:
        np.testing.assert_array_equal(block.frame(symbol).to_numpy(), frames[symbol].to_numpy())


def test_a_symbols_bars_do_not_depend_on_the_symbols_asked_with_it() -> None:
    alone = market_at(START).bars("SOL/USDT", "5m", limit=400)
    (with_some,) = market_at(START).bars_block(["BTC/USDT", "SOL/USDT"], "5m", limit=400).blocks
    (with_all,) = market_at(START).bars_block(SYMBOLS[::-1], "5m", limit=400).blocks

    for block in (with_some, with_all):
        np.testing.assert_array_equal(block.frame("SOL/USDT").to_numpy(), alone.to_numpy())


@settings(max_examples=20, deadline=None)
@given(steps=st.lists(st.integers(0, 400), min_size=1, max_size=12), limit=st.integers(1, 500))
def test_a_window_grown_cycle_by_cycle_equals_one_made_afresh(steps: list[int], limit: int) -> None:
    clock = ManualClock(START)
    market = SyntheticMarket(seed=3, symbols=SYMBOLS[:6], clock=clock)
    for minutes in steps:
        clock.advance(timedelta(minutes=minutes))
        (grown,) = market.bars_block(SYMBOLS[:6], "5m", limit=limit).blocks
        fresh = SyntheticMarket(seed=3, symbols=SYMBOLS[:6], clock=ManualClock(clock.now()))
        (made,) = fresh.bars_block(SYMBOLS[:6], "5m", limit=limit).blocks

        np.testing.assert_array_equal(grown.times, made.times)
        np.testing.assert_array_equal(grown.values, made.values)


@pytest.mark.parametrize(("timeframe", "limit"), [("1m", 500), ("5m", 300), ("1h", 100)])
def test_a_cached_block_across_midnight_equals_each_symbols_bars_made_alone(
    timeframe: str, limit: int
) -> None:
    """The vectorised, cached path (one block for all symbols, grown cycle by cycle over
    two midnights) gives each symbol exactly the bars a fresh market makes for it alone."""
    symbols = SYMBOLS[:3] + SYMBOLS[-3:]  # majors and derived profiles
    clock = ManualClock(START - timedelta(minutes=50))  # 22:10, the day before
    market = SyntheticMarket(seed=11, symbols=symbols, clock=clock)
    for minutes in (0, 5, 35, 60, 1, 90, 24 * 60 - 25, 5):  # crosses 00:00 twice
        clock.advance(timedelta(minutes=minutes))
        (block,) = market.bars_block(symbols, timeframe, limit=limit).blocks
        for symbol in symbols:
            alone = SyntheticMarket(seed=11, symbols=[symbol], clock=ManualClock(clock.now()))
            frame = alone.bars(symbol, timeframe, limit=limit)

            assert block.index.equals(frame.index), (symbol, clock.now())
            np.testing.assert_array_equal(block.frame(symbol).to_numpy(), frame.to_numpy())


def test_a_block_handed_out_stays_as_it_was_while_the_window_grows() -> None:
    clock = ManualClock(START)
    market = SyntheticMarket(seed=3, symbols=SYMBOLS[:4], clock=clock)
    (first,) = market.bars_block(SYMBOLS[:4], "5m", limit=40).blocks
    before = first.values.copy()

    for _ in range(60):  # past the room kept for new bars, so the window moves once
        clock.advance(timedelta(minutes=5))
        (newest,) = market.bars_block(SYMBOLS[:4], "5m", limit=40).blocks

    np.testing.assert_array_equal(first.values, before)
    assert newest.times[0] == first.times[0] + 60 * 300 * 10**9


def test_blocks_are_read_only_so_no_caller_can_change_the_market() -> None:
    (block,) = market_at(START).bars_block(SYMBOLS, "5m", limit=50).blocks

    with pytest.raises(ValueError, match="read-only"):
        block.column("close")[0, -1] = 1.0


def test_the_default_reader_groups_frames_by_index_and_skips_bad_symbols() -> None:
    class Frames:
        """A source with only bars(): two symbols on one index, one shorter, one bad."""

        def __init__(self) -> None:
            self.synthetic = market_at(START)

        def bars(self, symbol: str, timeframe: str = "1h", **kwargs: Any) -> pd.DataFrame:
            limit = 40 if symbol == "SOL/USDT" else 60
            frame = self.synthetic.bars(symbol, timeframe, limit=limit)
            if symbol == "XRP/USDT":
                frame = frame.copy()
                frame.iloc[5, frame.columns.get_loc("high")] = frame["low"].iloc[5] / 2
            return frame

        def bars_many(self, symbols: Iterable[str], timeframe: str, **kwargs: Any) -> Any:
            return {s: self.bars(s, timeframe) for s in symbols}

    read = read_blocks(Frames(), ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"], "1h", limit=60)

    assert [(b.symbols, len(b)) for b in read.blocks] == [
        (("BTC/USDT", "ETH/USDT"), 60),
        (("SOL/USDT",), 40),
    ]
    assert list(read.skipped) == ["XRP/USDT"] and "high" in read.skipped["XRP/USDT"]
    assert read.symbols == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def test_frames_with_other_columns_or_their_own_index_make_the_same_block() -> None:
    frames = market_at(START).bars_many(SYMBOLS[:3], "1h", limit=30)
    (reference,) = BarBlock.from_frames(frames, "1h")
    shuffled = frames["BTC/USDT"][["close", "volume", "open", "low", "high"]].assign(extra=1.0)
    copied_index = frames["ETH/USDT"].set_axis(frames["ETH/USDT"].index.copy())

    (block,) = BarBlock.from_frames(
        {**frames, "BTC/USDT": shuffled, "ETH/USDT": copied_index}, "1h"
    )

    assert block.symbols == reference.symbols
    np.testing.assert_array_equal(block.times, reference.times)
    np.testing.assert_array_equal(block.values, reference.values)


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("close", np.nan, "finite number > 0"),
        ("open", -1.0, "finite number > 0"),
        ("volume", -5.0, "volume"),
        ("high", 0.5, "high is below"),
        ("low", 1e12, "low is above"),
    ],
)
def test_a_bad_row_is_skipped_by_name_and_the_others_go_on(
    column: str, value: float, words: str
) -> None:
    class Broken(SyntheticMarket):
        def bars_block(self, symbols: Iterable[str], timeframe: str = "1h", **kw: Any) -> Any:
            read = super().bars_block(symbols, timeframe, **kw)
            (block,) = read.blocks
            values = block.values.copy()
            values[("open", "high", "low", "close", "volume").index(column), 1, -2] = value
            return type(read)([BarBlock(block.symbols, block.times, values, timeframe)], {})

    read = read_blocks(Broken(seed=7, clock=ManualClock(START)), SYMBOLS[:4], "5m", limit=20)

    assert list(read.skipped) == [SYMBOLS[1]]
    assert words in read.skipped[SYMBOLS[1]] and SYMBOLS[1] in read.skipped[SYMBOLS[1]]
    assert read.symbols == [SYMBOLS[0], *SYMBOLS[2:4]]


def test_a_block_refuses_values_of_the_wrong_shape() -> None:
    with pytest.raises(DataError, match="shape"):
        BarBlock(("A",), np.arange(3, dtype=np.int64), np.zeros((5, 2, 3)), "1h")


def test_since_keeps_only_the_bars_after_a_time() -> None:
    (block,) = market_at(START).bars_block(SYMBOLS[:2], "1h", limit=10).blocks

    newer = block.since(int(block.times[6]))

    np.testing.assert_array_equal(newer.times, block.times[7:])
    np.testing.assert_array_equal(newer.values, block.values[:, :, 7:])
    assert len(block.since(int(block.times[-1]))) == 0
