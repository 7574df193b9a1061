"""Prediction scores, and the signal PnL with next-bar fills and costs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.errors import ConfigurationError, DataError
from components.execution.costs import CostModel
from components.learning import directions_from_probability, prediction_metrics, signal_pnl
from components.learning.evaluation import signal_returns

NO_COSTS = CostModel(fee_bps=0, slippage_bps=0, spread_bps=0)


def test_a_position_taken_at_a_bar_earns_from_the_next_open_to_the_one_after() -> None:
    opens = np.array([100.0, 200.0, 110.0, 121.0, 50.0, 50.0])
    direction = np.array([0, 1, 0, 0, 0, 0])  # long at bar 1 only

    net, _ = signal_returns(direction, opens, costs=NO_COSTS)

    # entered at open[2] = 110, left at open[3] = 121: +10%; the jump to 200 is not earned
    np.testing.assert_allclose(net, [0.0, 0.1, 0.0, 0.0])


def test_costs_are_paid_on_every_change_of_position() -> None:
    opens = np.full(6, 100.0)
    costs = CostModel(fee_bps=10, slippage_bps=2, spread_bps=4)  # 10 + 2 + 4 / 2 = 14 bps
    direction = np.array([1, 1, -1, 0, 0, 0])

    net, paid = signal_returns(direction, opens, costs=costs)

    np.testing.assert_allclose(paid, np.array([1, 0, 2, 1]) * 0.0014)
    np.testing.assert_allclose(net, -paid)


def test_a_position_left_open_at_the_end_pays_its_exit() -> None:
    net, paid = signal_returns(np.ones(5), np.full(5, 100.0), costs=CostModel(fee_bps=10))

    assert paid.sum() == pytest.approx(2 * (10 + 1 + 2) / 10_000)
    assert net.sum() == pytest.approx(-paid.sum())


def test_signal_pnl_compounds_and_counts_trades() -> None:
    opens = np.array([100.0, 100.0, 110.0, 121.0, 133.1])
    metrics = signal_pnl(np.array([1, 1, 0, 0, 0]), opens, costs=NO_COSTS)

    assert metrics.total_return == pytest.approx(1.1 * 1.1 - 1)
    assert metrics.trades == 2  # in at open[2], out at open[4]
    assert metrics.bars == 3


def test_signal_pnl_splits_capital_equally_across_symbols() -> None:
    opens = np.array([[100.0, 100.0, 110.0, 110.0], [100.0, 100.0, 90.0, 90.0]])
    long_first = np.array([[1, 0, 0, 0], [0, 0, 0, 0]])

    metrics = signal_pnl(long_first, opens, costs=NO_COSTS)

    assert metrics.total_return == pytest.approx(0.05)


def test_directions_follow_the_threshold_and_confidence_is_the_chosen_probability() -> None:
    direction, confidence = directions_from_probability(
        np.array([0.7, 0.55, 0.5, 0.3, np.nan]), threshold=0.6
    )

    np.testing.assert_array_equal(direction, [1, 0, 0, -1, 0])
    np.testing.assert_allclose(confidence, [0.7, 0.0, 0.0, 0.7, 0.0])


def test_long_only_never_shorts() -> None:
    direction, _ = directions_from_probability(np.array([0.1, 0.9]), threshold=0.6, long_only=True)

    np.testing.assert_array_equal(direction, [0, 1])


def test_a_threshold_below_one_half_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="threshold"):
        directions_from_probability(np.array([0.5]), threshold=0.4)


def test_prediction_metrics_of_a_perfect_ranking() -> None:
    scores = prediction_metrics([0.9, 0.8, 0.2, 0.1, np.nan], [1, 1, 0, 0, 1])

    assert scores.auc == 1.0
    assert scores.samples == 4
    assert scores.log_loss < 0.25


def test_auc_is_nan_when_the_labels_hold_one_class() -> None:
    assert math.isnan(prediction_metrics([0.6, 0.7], [1, 1]).auc)


def test_prediction_metrics_without_samples_raise_data_error() -> None:
    with pytest.raises(DataError, match="no sample"):
        prediction_metrics([np.nan], [1])
