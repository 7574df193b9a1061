"""Parameter grids: every set at once, the same trades as one run per set."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from components.backtest import GRID_METRICS, Backtester, TradeArrays, parse_grid
from components.errors import ConfigurationError
from components.execution.exits import ExitRules
from components.strategies import create_strategy
from tests.unit.backtest.builders import bars_from_prices, random_walk


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_walk(3_000, seed=11)


def assert_same_trades(grid: TradeArrays, run: TradeArrays) -> None:
    for f in fields(TradeArrays):
        np.testing.assert_allclose(getattr(grid, f.name), getattr(run, f.name), rtol=1e-12)


@pytest.mark.parametrize("sizing", ["all_in", "risk"])
def test_every_set_trades_as_run_does(bars: pd.DataFrame, sizing: str) -> None:
    grid = {"fast": [5, 10, 30], "slow": [20, 40], "long_only": [True, False]}
    backtester = Backtester(sizing=sizing)  # type: ignore[arg-type]

    result = backtester.run_grid("sma_crossover", grid, bars)

    assert result.sets == 10 and result.skipped == 2  # fast=30 with slow=20: refused
    assert list(result.table.columns) == ["fast", "slow", "long_only", *GRID_METRICS]
    for row, trades in zip(result.table.itertuples(), result.trades, strict=True):
        params = {"fast": row.fast, "slow": row.slow, "long_only": row.long_only}
        single = backtester.run(create_strategy("sma_crossover", params), bars)
        assert_same_trades(trades, single.trade_arrays)
        m = single.metrics
        assert row.trades == m.n_trades and len(trades) > 0
        assert row.total_return == pytest.approx(m.total_return, rel=1e-9, abs=1e-12)
        assert row.sharpe == pytest.approx(m.sharpe, rel=1e-9)
        assert row.max_drawdown == pytest.approx(m.max_drawdown, rel=1e-9, abs=1e-12)
        assert row.exposure == pytest.approx(m.exposure)
        assert row.win_rate == pytest.approx(m.win_rate)


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_metrics_read_from_the_trades_agree_with_the_curve(seed: int) -> None:
    """Long all-in sets take the per-trade path (no per-bar curve); stops, take-profits and
    trailing exits (a trade may end in its entry bar), shorts (the curve path) mixed in."""
    bars = random_walk(2_000, seed=seed)
    rules = ExitRules(stop_loss_atr=0.5, take_profit_atr=1.0, trailing_atr=0.8)
    grid = {"fast": [3, 5, 8], "slow": [10, 25], "long_only": [True, False]}
    for backtester in (Backtester(), Backtester(exits=rules)):
        result = backtester.run_grid("sma_crossover", grid, bars)
        for row in result.table.itertuples():
            params = {"fast": row.fast, "slow": row.slow, "long_only": row.long_only}
            m = backtester.run(create_strategy("sma_crossover", params), bars).metrics
            assert row.trades == m.n_trades
            assert row.final_equity == pytest.approx(m.final_equity, rel=1e-12)
            assert row.sharpe == pytest.approx(m.sharpe, rel=1e-9)
            assert row.max_drawdown == pytest.approx(m.max_drawdown, rel=1e-9, abs=1e-12)
            assert row.exposure == pytest.approx(m.exposure, rel=1e-12)
            assert row.win_rate == pytest.approx(m.win_rate, rel=1e-12)


def test_a_drawdown_inside_one_trade_is_found_bar_by_bar() -> None:
    """The deepest fall is from a peak the trade itself set to a low in the same trade, so
    the per-trade bounds cannot settle it: that trade is walked bar by bar."""
    dip = 100.0 * 0.99 ** np.arange(30)  # fast below slow: the rise is a cross
    rise = dip[-1] * 1.01 ** np.arange(1, 61)
    crash = rise[-1] * 0.92  # one bar: the averages do not cross, the trade holds on
    again = crash * 1.01 ** np.arange(1, 41)  # back above the old peak
    wiggle = again[-1] * (1 + 0.004 * np.sin(np.arange(60)))  # the trade ends here
    close = np.concatenate((dip, rise, [crash], again, wiggle))
    bars = bars_from_prices(np.concatenate(([100.0], close[:-1])), close)
    backtester = Backtester()

    result = backtester.run_grid("sma_crossover", {"fast": [3, 5], "slow": [10, 20]}, bars)

    for row in result.table.itertuples():
        params = {"fast": row.fast, "slow": row.slow}
        m = backtester.run(create_strategy("sma_crossover", params), bars).metrics
        assert 0.07 < m.max_drawdown < 0.1  # the crash
        assert row.max_drawdown == pytest.approx(m.max_drawdown, rel=1e-9, abs=1e-12)
        assert row.sharpe == pytest.approx(m.sharpe, rel=1e-9)


def test_a_strategy_without_a_shared_grid_path_loops_and_still_agrees(bars: pd.DataFrame) -> None:
    result = Backtester().run_grid("momentum", {"lookback": [10, 40], "threshold": [0.01]}, bars)

    for row, trades in zip(result.table.itertuples(), result.trades, strict=True):
        single = Backtester().run(
            create_strategy("momentum", {"lookback": row.lookback, "threshold": 0.01}), bars
        )
        assert_same_trades(trades, single.trade_arrays)


def test_invalid_sets_are_skipped_and_counted_by_reason(bars: pd.DataFrame) -> None:
    result = Backtester().run_grid(
        "sma_crossover", parse_grid(["fast=5:50:5", "slow=20:200:20"]), bars
    )

    assert result.sets + result.skipped == 100
    assert result.skipped == 10  # (fast, slow) with fast >= slow: 20 x 2, 40 x 8
    assert list(result.skip_reasons.values()) == [1] * 10
    assert all("must be below slow" in reason for reason in result.skip_reasons)


def test_a_grid_is_parsed_from_ranges_and_lists() -> None:
    assert parse_grid(["fast=5:20:5", "threshold=0.01,0.02", "long_only=true,false"]) == {
        "fast": [5, 10, 15, 20],
        "threshold": [0.01, 0.02],
        "long_only": [True, False],
    }
    assert parse_grid(["x=0.1:0.3:0.1"]) == {"x": [0.1, 0.2, 0.3]}


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["fast"], "write name=start:stop:step"),
        (["fast=5:1:1"], "stop is below start"),
        (["fast=1:5:0"], "step must be positive"),
        (["fast=a,b"], "not a number"),
        (["fast=1", "fast=2"], "given twice"),
    ],
)
def test_a_bad_grid_text_is_refused_naming_it(specs: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_grid(specs)


def test_an_unknown_param_or_strategy_is_refused(bars: pd.DataFrame) -> None:
    with pytest.raises(ConfigurationError, match="has no param 'speed'"):
        Backtester().run_grid("sma_crossover", {"speed": [1]}, bars)
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        Backtester().run_grid("nosuch", {"fast": [1]}, bars)


def test_the_crossover_grid_gives_each_sets_own_signals_ties_included() -> None:
    bars = random_walk(2_000, seed=4)
    columns = [bars[c].to_numpy().copy() for c in ("open", "high", "low", "close", "volume")]
    columns[3][900:960] = columns[3][899]  # flat closes: the averages tie
    sets = [
        create_strategy(
            "sma_crossover", {"fast": f, "slow": s, "long_only": lo, "wait_for_cross": w}
        )
        for f, s in [(2, 3), (5, 20), (10, 40)]
        for lo in (True, False)
        for w in (True, False)
    ]

    for with_confidence in (True, False):
        grid = type(sets[0]).signal_grid(sets, *columns, with_confidence=with_confidence)
        for row, strategy in enumerate(sets):
            direction, confidence = strategy.signal_arrays(*columns)
            np.testing.assert_array_equal(grid.direction[row], direction)
            if with_confidence:
                np.testing.assert_array_equal(grid.confidence[row], confidence)
