"""Each built-in strategy does the obvious thing on a series shaped to provoke it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from components.strategies import (
    BreakoutStrategy,
    MeanReversionStrategy,
    MomentumStrategy,
    SmaCrossoverStrategy,
    TrendFollowingStrategy,
)
from tests.unit.strategies.builders import bars_from_closes, noisy_flat, random_walk


def steady(n: int, *, step: float, start: float = 100.0) -> np.ndarray:
    """Closes rising (or falling) by ``step`` (relative) every bar."""
    return start * (1 + step) ** np.arange(n)


# --- momentum ------------------------------------------------------------------------------------


def test_momentum_is_long_in_a_steady_rise() -> None:
    out = MomentumStrategy().signals(bars_from_closes(steady(100, step=0.003)))

    assert (out["direction"].iloc[21:] == 1).all()
    assert (out["confidence"].iloc[21:] > 0.5).all()


def test_momentum_is_short_in_a_steady_fall_unless_long_only() -> None:
    bars = bars_from_closes(steady(100, step=-0.003))

    assert MomentumStrategy().signals(bars)["direction"].iloc[-1] == -1
    assert MomentumStrategy({"long_only": True}).signals(bars)["direction"].iloc[-1] == 0


def test_momentum_is_flat_when_the_change_stays_below_the_threshold() -> None:
    out = MomentumStrategy({"threshold": 0.05}).signals(bars_from_closes(noisy_flat(200)))

    assert (out["direction"] == 0).all()


def test_momentum_confidence_grows_with_the_rate_of_change() -> None:
    slow = MomentumStrategy().signals(bars_from_closes(steady(60, step=0.0012)))
    fast = MomentumStrategy().signals(bars_from_closes(steady(60, step=0.003)))

    assert 0.5 <= slow["confidence"].iloc[-1] < fast["confidence"].iloc[-1] == 1.0


# --- mean reversion ------------------------------------------------------------------------------


def test_mean_reversion_is_long_after_a_sharp_drop_below_its_mean() -> None:
    closes = np.concatenate([noisy_flat(60), [94.0]])

    out = MeanReversionStrategy().signals(bars_from_closes(closes))

    assert out["direction"].iloc[-1] == 1
    assert out["confidence"].iloc[-1] > 0.5


def test_mean_reversion_holds_until_the_price_returns_to_its_mean() -> None:
    # a drop, a partial recovery still below the mean, then a full recovery
    closes = np.concatenate([noisy_flat(60, noise=0.001), [94.0, 96.0, 97.0, 104.0, 104.0]])

    direction = MeanReversionStrategy().signals(bars_from_closes(closes))["direction"]

    assert list(direction.iloc[-5:]) == [1, 1, 1, -1, -1]


def test_mean_reversion_is_short_after_a_spike_unless_long_only() -> None:
    bars = bars_from_closes(np.concatenate([noisy_flat(60), [106.0]]))

    assert MeanReversionStrategy().signals(bars)["direction"].iloc[-1] == -1
    assert MeanReversionStrategy({"long_only": True}).signals(bars)["direction"].iloc[-1] == 0


def test_mean_reversion_is_flat_on_a_perfectly_flat_market() -> None:
    out = MeanReversionStrategy().signals(bars_from_closes(np.full(80, 100.0), wick=0.0))

    assert (out["direction"] == 0).all()


# --- trend following -----------------------------------------------------------------------------


def test_trend_following_is_long_in_a_strong_uptrend() -> None:
    out = TrendFollowingStrategy().signals(bars_from_closes(steady(120, step=0.004)))

    assert (out["direction"].iloc[40:] == 1).all()
    assert (out["confidence"].iloc[40:] > 0.9).all()


def test_trend_following_is_short_in_a_strong_downtrend_unless_long_only() -> None:
    bars = bars_from_closes(steady(120, step=-0.004))

    assert TrendFollowingStrategy().signals(bars)["direction"].iloc[-1] == -1
    assert TrendFollowingStrategy({"long_only": True}).signals(bars)["direction"].iloc[-1] == 0


def test_trend_following_stays_flat_without_a_trend() -> None:
    out = TrendFollowingStrategy({"adx_threshold": 40}).signals(
        bars_from_closes(noisy_flat(300, noise=0.003), wick=0.003)
    )

    assert (out["direction"] == 0).mean() > 0.9


# --- breakout ------------------------------------------------------------------------------------


def test_breakout_is_long_on_a_new_high() -> None:
    closes = np.concatenate([noisy_flat(40), [103.0]])

    out = BreakoutStrategy().signals(bars_from_closes(closes))

    assert out["direction"].iloc[-1] == 1
    assert out["confidence"].iloc[-1] > 0.8


def test_breakout_holds_until_the_exit_channel_low_breaks() -> None:
    base = noisy_flat(40)
    closes = np.concatenate([base, [103.0, 103.5, 102.0], [base.min() * 0.98]])

    direction = BreakoutStrategy().signals(bars_from_closes(closes))["direction"]

    assert list(direction.iloc[-4:-1]) == [1, 1, 1]
    assert direction.iloc[-1] != 1


def test_breakout_ignores_a_new_high_smaller_than_the_atr_filter() -> None:
    base = noisy_flat(40)
    closes = np.concatenate([base, [base.max() * 1.0005]])
    bars = bars_from_closes(closes)

    assert BreakoutStrategy({"atr_multiple": 0.0}).signals(bars)["direction"].iloc[-1] == 1
    assert BreakoutStrategy({"atr_multiple": 2.0}).signals(bars)["direction"].iloc[-1] == 0


def test_breakout_is_short_on_a_new_low_unless_long_only() -> None:
    bars = bars_from_closes(np.concatenate([noisy_flat(40), [97.0]]))

    assert BreakoutStrategy().signals(bars)["direction"].iloc[-1] == -1
    assert BreakoutStrategy({"long_only": True}).signals(bars)["direction"].iloc[-1] == 0


# --- sma crossover -------------------------------------------------------------------------------


def fall_then_rise() -> np.ndarray:
    return np.concatenate([steady(40, step=-0.004), steady(40, step=0.004, start=85.0)])


def test_sma_crossover_flips_long_on_the_bar_the_fast_sma_crosses_above() -> None:
    bars = bars_from_closes(fall_then_rise())
    fast = bars["close"].rolling(3).mean()
    slow = bars["close"].rolling(8).mean()
    cross = int(np.flatnonzero((fast > slow).to_numpy() & (fast.shift() < slow.shift()))[0])

    strategy = SmaCrossoverStrategy(
        {"fast": 3, "slow": 8, "long_only": False, "wait_for_cross": False}
    )

    direction = strategy.signals(bars)["direction"]

    assert (direction.iloc[7:cross] == -1).all()
    assert (direction.iloc[cross:] == 1).all()


def test_sma_crossover_long_only_is_flat_below_the_cross() -> None:
    bars = bars_from_closes(np.concatenate([fall_then_rise(), steady(40, step=-0.004, start=115)]))

    direction = SmaCrossoverStrategy({"fast": 3, "slow": 8}).signals(bars)["direction"]

    assert set(np.unique(direction)) == {0, 1}
    assert direction.iloc[60] == 1
    assert direction.iloc[-1] == 0


def test_sma_crossover_waits_for_a_cross_unless_told_not_to() -> None:
    bars = bars_from_closes(steady(60, step=0.004))

    waiting = SmaCrossoverStrategy().signals(bars)["direction"]
    eager = SmaCrossoverStrategy({"wait_for_cross": False}).signals(bars)["direction"]

    assert (waiting == 0).all()
    assert (eager.iloc[:19] == 0).all()
    assert (eager.iloc[19:] == 1).all()


@pytest.mark.parametrize("long_only", [True, False])
def test_sma_crossover_trades_on_the_bars_backtesting_py_does(long_only: bool) -> None:
    pytest.importorskip("backtesting")
    from backtesting import Backtest
    from backtesting import Strategy as ReferenceStrategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(ReferenceStrategy):
        def init(self) -> None:
            self.fast = self.I(SMA, self.data.Close, 10)
            self.slow = self.I(SMA, self.data.Close, 20)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                if not long_only:
                    self.sell()

    bars = random_walk(800, seed=4)
    frame = bars.rename(columns=str.capitalize).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(frame, SmaCross, cash=1e9, finalize_trades=True).run()
    trades = stats["_trades"]

    direction = SmaCrossoverStrategy({"long_only": long_only}).signals(bars)["direction"]
    changed = direction.ne(direction.shift(fill_value=0)).to_numpy()
    # a change at bar t fills at the open of bar t + 1
    entries = [t + 1 for t in np.flatnonzero(changed & (direction != 0).to_numpy())]
    entries = [t for t in entries if t < len(bars)]

    assert sorted(trades["EntryBar"]) == entries
    assert isinstance(trades, pd.DataFrame)
