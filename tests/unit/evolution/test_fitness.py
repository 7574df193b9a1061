"""Walk-forward fitness: out-of-sample folds only, the backtester's own rules per window,
and the lookahead and recursion gates in front."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest

from components.backtest import Backtester
from components.errors import DataError
from components.evolution import (
    BarArrays,
    Genome,
    evaluate_walk_forward,
    fold_windows,
    score_windows,
)
from components.strategies import STRATEGIES
from tests.unit.backtest.builders import ReplaySignals
from tests.unit.evolution.builders import (
    AlwaysLong,
    LongFromBar250,
    PeekAhead,
    bars_from_closes,
    small_config,
    synthetic_bars,
    trend_then_reversal,
)


@pytest.fixture(scope="module")
def data() -> BarArrays:
    return BarArrays.from_frames(synthetic_bars())


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test strategies, registered as a plugin would register its own."""
    for cls in (AlwaysLong, PeekAhead, LongFromBar250):
        monkeypatch.setitem(STRATEGIES, cls.name, cls)


def test_fold_windows_are_consecutive_equal_and_end_at_the_last_bar(data: BarArrays) -> None:
    windows = fold_windows(data.index, 4)

    assert [w.fold for w in windows] == [0, 1, 2, 3]
    assert windows[-1].stop_bar == data.bars
    assert {w.bars for w in windows} == {data.bars // 4}
    for before, after in itertools.pairwise(windows):
        assert after.start_bar == before.stop_bar
    assert windows[0].start == data.index[windows[0].start_bar]


def test_a_history_too_short_for_the_folds_raises_a_data_error(data: BarArrays) -> None:
    with pytest.raises(DataError, match="90 bars make 4 folds of 22 bars; each needs at least 24"):
        fold_windows(data.index[:90], 4)
    assert len(fold_windows(data.index[:96], 4)) == 4


@pytest.mark.usefixtures("registered")
def test_great_in_sample_and_poor_out_of_sample_make_a_low_fitness() -> None:
    # Rising for the first window, falling for the second: always long wins in sample
    # and loses out of sample; only the loss counts.
    data = BarArrays.from_frames(bars_from_closes(trend_then_reversal(400)))
    config = small_config(folds=2, min_trades=1, engine_history_bars=None)

    evaluation = evaluate_walk_forward(Genome.create("always_long"), data, config)

    (inside,) = evaluation.in_sample
    (outside,) = evaluation.out_of_sample
    assert (inside.fold, outside.fold) == (0, 1)
    assert inside.total_return > 0.3 and inside.score > 3
    assert outside.total_return < -0.3 and outside.score < -3
    assert evaluation.fitness == outside.score
    assert evaluation.in_sample_score == inside.score
    assert evaluation.summary("out_of_sample").total_return == outside.total_return
    assert evaluation.summary("in_sample").total_return == inside.total_return


def test_fitness_is_the_mean_out_of_sample_score(data: BarArrays) -> None:
    config = small_config(folds=4)
    genome = Genome.create("momentum", {"lookback": 24, "threshold": 0.01})

    evaluation = evaluate_walk_forward(genome, data, config)
    scores = score_windows(genome.build(), data, fold_windows(data.index, 4), config)

    assert evaluation.passed
    assert [f.fold for f in evaluation.out_of_sample] == [1, 2, 3]
    assert [f.fold for f in evaluation.in_sample] == [0, 1, 2]
    assert evaluation.fitness == pytest.approx(np.mean([s.score for s in scores[1:]]))
    assert evaluation.in_sample_score == pytest.approx(np.mean([s.score for s in scores[:-1]]))


def test_each_window_scores_as_the_backtester_runs_it_with_the_full_history_signals(
    data: BarArrays,
) -> None:
    config = small_config(folds=3)
    strategy = Genome.create("mean_reversion", {"lookback": 30, "entry_z": 1.5}).build()
    direction, confidence = strategy.signal_arrays(
        data.open, data.high, data.low, data.close, data.volume
    )
    frames = {s: data.frame(i) for i, s in enumerate(data.symbols)}
    backtester = Backtester(config.backtest)

    for window, score in zip(
        fold_windows(data.index, 3),
        score_windows(strategy, data, fold_windows(data.index, 3), config),
        strict=True,
    ):
        a, b = window.start_bar, window.stop_bar
        replay = ReplaySignals(direction[:, a:b], confidence[:, a:b])
        expected = backtester.run_many(replay, {s: f.iloc[a:b] for s, f in frames.items()})
        m = expected.metrics
        assert score.trades == m.n_trades
        assert score.total_return == pytest.approx(m.total_return, rel=1e-12)
        assert score.sharpe == pytest.approx(m.sharpe, rel=1e-12)
        assert score.max_drawdown == pytest.approx(m.max_drawdown, rel=1e-12)
        assert score.exposure == pytest.approx(m.exposure)


def test_a_window_with_too_few_trades_scores_the_floor(data: BarArrays) -> None:
    config = small_config(min_trades=1_000, floor_score=-2.5)
    genome = Genome.create("momentum", {"lookback": 24, "threshold": 0.01})

    evaluation = evaluate_walk_forward(genome, data, config)

    assert all(f.floored and f.score == -2.5 for f in evaluation.out_of_sample)
    assert evaluation.fitness == -2.5


@pytest.mark.usefixtures("registered")
def test_a_peeking_strategy_is_rejected_by_the_lookahead_gate(data: BarArrays) -> None:
    evaluation = evaluate_walk_forward(Genome.create("peek_ahead"), data, small_config())

    assert not evaluation.passed
    assert evaluation.fitness == -math.inf
    assert (
        evaluation.rejected is not None and "peek_ahead(lag=1) looks ahead" in evaluation.rejected
    )
    assert evaluation.out_of_sample == evaluation.in_sample == ()


@pytest.mark.usefixtures("registered")
def test_a_strategy_bound_to_its_start_is_rejected_by_the_recursion_gate(data: BarArrays) -> None:
    genome = Genome.create("long_from_bar_250")

    checked = evaluate_walk_forward(genome, data, small_config(engine_history_bars=200))
    unchecked = evaluate_walk_forward(genome, data, small_config(engine_history_bars=None))

    assert checked.rejected is not None and "unstable over 200 bars" in checked.rejected
    assert unchecked.passed and math.isfinite(unchecked.fitness)


def test_bars_on_different_time_indexes_are_refused() -> None:
    bars = synthetic_bars(2, 300)
    _, second = bars
    bars[second] = bars[second].iloc[1:]

    with pytest.raises(DataError, match="one time index"):
        BarArrays.from_frames(bars)


def test_bad_bars_are_refused_naming_the_symbol() -> None:
    bars = synthetic_bars(2, 300)
    name = list(bars)[1]
    broken = bars[name].copy()
    broken.loc[broken.index[10], "close"] = np.nan
    bars[name] = broken

    with pytest.raises(DataError, match=re.escape(name)):
        BarArrays.from_frames(bars)


def test_the_arrays_are_the_bars(data: BarArrays) -> None:
    frames = synthetic_bars()
    symbol = data.symbols[1]

    pd.testing.assert_frame_equal(data.frame(1), frames[symbol], check_freq=False)
    assert data.timeframe == "1h"
    assert data.periods_per_year == 8_760
