"""The engine's signal books: updated by each cycle's new bars, equal to the full computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np

from components.engine.signals import SignalBook
from components.indicators import atr
from components.market import BarBlock, ManualClock, SyntheticMarket, default_symbols
from components.strategies import STRATEGIES, MomentumStrategy, Strategy

START = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
SYMBOLS = default_symbols(12)


def blocks(steps: list[int], limit: int = 120) -> list[BarBlock]:
    """The engine's window after each step (in 5-minute bars) of the clock."""
    clock = ManualClock(START)
    market = SyntheticMarket(seed=11, symbols=SYMBOLS, clock=clock)
    out = []
    for step in steps:
        clock.advance(timedelta(minutes=5 * step))
        (block,) = market.bars_block(SYMBOLS, "5m", limit=limit).blocks
        out.append(block)
    return out


def since_anchor(window: list[BarBlock]) -> np.ndarray:
    """(5, symbols, bars) of every bar from the first block's first bar to the last's."""
    times = np.unique(np.concatenate([b.times for b in window]))
    by_time = {}
    for block in window:
        for i, t in enumerate(block.times.tolist()):
            by_time[t] = block.values[:, :, i]
    return np.stack([by_time[t] for t in times.tolist()], axis=2)


STRATEGY_SET = {name: cls() for name, cls in STRATEGIES.items()}


def test_incremental_full_and_one_call_over_every_bar_agree_at_every_cycle() -> None:
    window = blocks([0, 1, 1, 3, 1, 7, 1, 1, 30, 2, 1])
    quick = SignalBook(window[0].symbols)
    full = SignalBook(window[0].symbols, incremental=False)

    for cycle, block in enumerate(window):
        fast, slow = quick.update(block, STRATEGY_SET), full.update(block, STRATEGY_SET)
        every_bar = since_anchor(window[: cycle + 1])
        for name, strategy in STRATEGY_SET.items():
            direction, confidence = strategy.signal_arrays(*every_bar)
            for update in (fast, slow):
                np.testing.assert_array_equal(update.signals[name].direction, direction[:, -1])
                np.testing.assert_array_equal(update.signals[name].confidence, confidence[:, -1])
        expected_atr = atr(every_bar[1], every_bar[2], every_bar[3], 14)[:, -1]
        assert fast.atrs == slow.atrs == [float(v) for v in expected_atr]


def test_a_cycle_with_no_new_bar_repeats_the_last_signals() -> None:
    first, again = blocks([0, 0])
    book = SignalBook(first.symbols)

    before = book.update(first, STRATEGY_SET)
    after = book.update(again, STRATEGY_SET)

    assert after.new_bars == 0
    for name in STRATEGY_SET:
        np.testing.assert_array_equal(after.signals[name].direction, before.signals[name].direction)


def test_bars_that_do_not_continue_the_last_ones_start_the_book_again() -> None:
    first, _, far = blocks([0, 1, 500], limit=60)  # 500 bars later: nothing in common
    book = SignalBook(first.symbols)
    book.update(first, STRATEGY_SET)

    update = book.update(far, STRATEGY_SET)

    fresh = SignalBook(far.symbols).update(far, STRATEGY_SET)
    assert update.new_bars == len(far)
    for name in STRATEGY_SET:
        np.testing.assert_array_equal(
            update.signals[name].confidence, fresh.signals[name].confidence
        )


def test_a_strategy_added_later_starts_from_the_window_it_joins_at() -> None:
    window = blocks([0, 2, 2, 2])
    book = SignalBook(window[0].symbols)
    momentum = MomentumStrategy({"lookback": 5})
    book.update(window[0], {})
    book.update(window[1], {})

    for cycle in (2, 3):
        update = book.update(window[cycle], {"momentum": momentum})
        direction, confidence = momentum.signal_arrays(*since_anchor(window[2 : cycle + 1]))
        np.testing.assert_array_equal(update.signals["momentum"].direction, direction[:, -1])
        np.testing.assert_array_equal(update.signals["momentum"].confidence, confidence[:, -1])


def test_a_strategy_that_does_not_stream_is_computed_over_the_window() -> None:
    class Windowed(MomentumStrategy):
        name: ClassVar[str] = "windowed"
        streams: ClassVar[bool] = False

    strategy: Strategy[Any] = Windowed({"lookback": 3})
    window = blocks([0, 1, 1], limit=40)
    book = SignalBook(window[0].symbols)

    for block in window:
        update = book.update(block, {"windowed": strategy})
        direction, confidence = strategy.signal_arrays(*block.columns())
        np.testing.assert_array_equal(update.signals["windowed"].direction, direction[:, -1])
        np.testing.assert_array_equal(update.signals["windowed"].confidence, confidence[:, -1])
