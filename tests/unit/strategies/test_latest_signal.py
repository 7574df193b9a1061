"""latest_signal: the engine's Signal for the last closed bar, from the same signals()."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from components.errors import DataError
from components.indicators import atr
from components.strategies import STRATEGIES, MomentumStrategy, latest_signal
from components.trading import Signal
from tests.unit.strategies.builders import bars_from_closes, random_walk


def test_latest_signal_is_the_last_row_of_signals_with_price_and_atr() -> None:
    bars = bars_from_closes(100 * 1.003 ** np.arange(60))
    strategy = MomentumStrategy()

    signal = latest_signal(strategy, "BTC/USDT", bars)

    assert isinstance(signal, Signal)
    last = strategy.signals(bars).iloc[-1]
    assert signal.strategy == "momentum"
    assert signal.symbol == "BTC/USDT"
    assert signal.direction == last["direction"] == 1
    assert signal.confidence == last["confidence"]
    assert signal.price == bars["close"].iloc[-1]
    expected_atr = atr(bars["high"].to_numpy(), bars["low"].to_numpy(), bars["close"].to_numpy())
    assert signal.atr == pytest.approx(expected_atr[-1])


def test_latest_signal_is_stamped_with_the_close_time_of_the_last_bar() -> None:
    bars = random_walk(30)  # hourly bars from 2024-01-01 00:00

    signal = latest_signal(MomentumStrategy(), "ETH/USDT", bars)

    assert signal is not None
    assert signal.at == datetime(2024, 1, 2, 6, tzinfo=UTC)  # open 05:00 + 1h


def test_latest_signal_takes_the_timeframe_when_given() -> None:
    bars = random_walk(30)

    signal = latest_signal(MomentumStrategy(), "ETH/USDT", bars, timeframe="4h")

    assert signal is not None
    assert signal.at == datetime(2024, 1, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_latest_signal_needs_the_warmup(name: str) -> None:
    strategy = STRATEGIES[name]()
    bars = random_walk(strategy.warmup, seed=2)

    assert latest_signal(strategy, "X/USDT", bars.iloc[:-1]) is None
    assert latest_signal(strategy, "X/USDT", bars) is not None


def test_latest_signal_of_a_flat_market_says_flat() -> None:
    bars = bars_from_closes(np.full(40, 100.0), wick=0.0)

    signal = latest_signal(MomentumStrategy(), "X/USDT", bars)

    assert signal is not None
    assert (signal.direction, signal.confidence) == (0, 0.0)
    assert signal.atr == 0.0


def test_latest_signal_without_atr_history_has_no_atr() -> None:
    strategy = MomentumStrategy({"lookback": 3})
    bars = random_walk(8)

    signal = latest_signal(strategy, "X/USDT", bars)

    assert signal is not None and signal.atr is None


def test_latest_signal_refuses_a_non_positive_last_close() -> None:
    bars = random_walk(30)
    bars.loc[bars.index[-1], "close"] = 0.0

    with pytest.raises(DataError, match="X/USDT: the last close"):
        latest_signal(MomentumStrategy(), "X/USDT", bars)
