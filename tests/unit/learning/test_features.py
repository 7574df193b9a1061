"""Features use the past only, labels the next ``horizon`` bars, and splits never let a
training label reach the test window; a shuffled future does not help, the true one would."""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from components.errors import ConfigurationError, DataError
from components.learning import (
    Dataset,
    FeatureConfig,
    LabelConfig,
    build_dataset,
    feature_arrays,
    feature_frame,
    make_labels,
    prediction_metrics,
    time_splits,
    train_model,
)
from components.learning.features import forward_returns
from components.market.base import BAR_COLUMNS
from components.regime import ClassifierConfig, MarketState, RegimeClassifier
from tests.unit.learning.builders import FAST_FEATURES, FAST_MODEL, ar_bars, market

# --- features: the past only -----------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(n=st.integers(60, 260), cut=st.integers(1, 259), seed=st.integers(0, 50))
def test_features_on_truncated_bars_equal_the_prefix_of_features_on_full_bars(
    n: int, cut: int, seed: int
) -> None:
    bars = ar_bars(n, phi=0.2, seed=seed)
    cut = min(cut, n)

    full = feature_frame(bars, config=FAST_FEATURES)
    truncated = feature_frame(bars.iloc[:cut], config=FAST_FEATURES)

    assert truncated.equals(full.iloc[:cut])


def test_every_feature_is_defined_from_the_warmup_bar_on() -> None:
    bars = ar_bars(400, seed=1)
    config = FeatureConfig()

    frame = feature_frame(bars, config=config)

    assert list(frame.columns) == list(config.names)
    assert frame.iloc[config.warmup - 1 :].notna().all().all()
    assert frame.iloc[config.warmup - 2].isna().any()


def test_regime_columns_agree_with_the_classifier_on_the_trailing_window() -> None:
    bars = ar_bars(600, phi=0.1, seed=4, volatility=0.02)
    regime = ClassifierConfig(lookback=48)
    frame = feature_frame(bars, config=FeatureConfig(regime=regime))
    classifier = RegimeClassifier(regime)
    close = bars["close"].to_numpy()

    for t in (48, 200, 377, 599):
        window = close[np.newaxis, t - regime.lookback : t + 1]
        expected = classifier.classify_arrays(["X"], window).symbols["X"].state
        one_hot = {s: frame[f"regime_{s.value}"].iloc[t] for s in MarketState}
        assert one_hot[expected] == 1.0
        assert sum(one_hot.values()) == 1.0


def test_two_dimensional_input_gives_each_row_its_own_features() -> None:
    bars = [ar_bars(300, seed=s) for s in (1, 2)]
    stacked = [np.vstack([b[c].to_numpy() for b in bars]) for c in BAR_COLUMNS]

    both = feature_arrays(*stacked, config=FAST_FEATURES).values
    second = feature_frame(bars[1], config=FAST_FEATURES).to_numpy()

    assert both.shape == (2, 300, len(FAST_FEATURES.names))
    np.testing.assert_array_equal(both[1], second)


def test_arrays_of_different_shapes_raise_data_error() -> None:
    with pytest.raises(DataError, match="one shape"):
        feature_arrays(
            np.ones(5), np.ones(5), np.ones(5), np.ones(4), np.ones(5), config=FAST_FEATURES
        )


# --- labels: the next horizon bars -------------------------------------------------------------


def test_label_at_a_bar_depends_on_the_next_horizon_bars_only() -> None:
    close = ar_bars(50, seed=2)["close"].to_numpy()
    config = LabelConfig(horizon=3, dead_zone=0.0)
    t = 20
    labels = make_labels(close, config)

    beyond = close.copy()
    beyond[t + 4] *= 3.0  # after the horizon: no effect on label t
    earlier = close.copy()
    earlier[:t] *= 0.5  # before bar t: no effect either
    flipped = close.copy()
    flipped[t + 3] = close[t] * (0.9 if labels[t] == 1.0 else 1.1)  # the horizon's close

    assert make_labels(beyond, config)[t] == labels[t]
    assert make_labels(earlier, config)[t] == labels[t]
    assert make_labels(flipped, config)[t] == 1.0 - labels[t]


def test_moves_inside_the_dead_zone_and_unknown_futures_have_no_label() -> None:
    close = np.array([100.0, 100.05, 101.0, 100.0, 100.0])

    labels = make_labels(close, LabelConfig(horizon=1, dead_zone=0.001))

    # +0.05% (dead zone), +0.95% (up), -0.99% (down), 0% (dead zone), no future
    np.testing.assert_array_equal(labels, [np.nan, 1.0, 0.0, np.nan, np.nan])


def test_forward_returns_look_horizon_bars_ahead() -> None:
    np.testing.assert_allclose(forward_returns([100.0, 110.0, 99.0], 1), [0.1, -0.1, np.nan])


# --- splits: purge and embargo ----------------------------------------------------------------


def test_purge_removes_every_training_sample_whose_label_reaches_the_test_window() -> None:
    horizon = 4
    unpurged = time_splits(500, train=200, test=100, purge=0, folds=1)[-1]
    purged = time_splits(500, train=200, test=100, purge=horizon, folds=1)[-1]
    test_start = int(purged.test[0])

    def label_reaches_test(t: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return t + horizon >= test_start  # the label of t uses bars t+1 .. t+horizon

    assert label_reaches_test(unpurged.train).sum() == horizon  # the leak a purge exists for
    assert not label_reaches_test(purged.train).any()
    assert purged.gap == horizon


def test_splits_walk_forward_with_a_gap_of_purge_plus_embargo() -> None:
    splits = time_splits(1_000, train=300, test=100, purge=4, embargo=3)

    assert splits[-1].test[-1] == 999
    for split in splits:
        assert len(split.train) == 300 and len(split.test) == 100
        assert split.gap == 7
        assert split.train[-1] < split.test[0]
    for before, after in itertools.pairwise(splits):
        assert before.test[-1] + 1 == after.test[0]


def test_an_expanding_window_trains_on_everything_before_the_gap() -> None:
    (split,) = time_splits(1_000, train=None, test=100, purge=4, folds=1)

    assert split.train[0] == 0 and split.train[-1] == 895


def test_splits_that_do_not_fit_raise_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no split fits 100 samples"):
        time_splits(100, train=90, test=20, purge=4)


# --- leakage: a shuffled future does not help, the true future would ---------------------------

HORIZON = 4


class LeakageCase(NamedTuple):
    """A random walk's dataset, each row's forward return, and purged train/test rows."""

    dataset: Dataset
    forward: npt.NDArray[np.float64]
    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]


@pytest.fixture(scope="module")
def leakage_case() -> LeakageCase:
    bars = market(3_000, phi=0.0, seed=21)
    label = LabelConfig(horizon=HORIZON, dead_zone=0.0)
    dataset = build_dataset(bars, features=FAST_FEATURES, label=label)
    forward, finite = [], []
    for symbol in sorted(bars):  # the dataset's row order: by symbol, then time
        forward.append(forward_returns(bars[symbol]["close"].to_numpy(), HORIZON))
        features = feature_frame(bars[symbol], config=FAST_FEATURES).to_numpy()
        finite.append(np.isfinite(features).all(axis=1))
    labelled_bars = len(dataset.timeline) - HORIZON
    split = time_splits(labelled_bars, train=None, test=800, purge=HORIZON, embargo=2)[-1]
    return LeakageCase(
        dataset=dataset,
        forward=np.concatenate(forward)[np.concatenate(finite)],
        train=np.isin(dataset.time, split.train) & dataset.labelled,
        test=np.isin(dataset.time, split.test) & dataset.labelled,
    )


def out_of_sample_auc(case: LeakageCase, *extra: npt.NDArray[np.float64]) -> float:
    """AUC on the test rows of a booster fit on the train rows, features plus ``extra``."""
    X = np.column_stack([case.dataset.X, *extra])
    y = case.dataset.y
    booster = HistGradientBoostingClassifier(max_iter=40, early_stopping=False, random_state=0)
    with threadpool_limits(limits=1, user_api="openmp"):
        booster.fit(X[case.train], y[case.train].astype(int))
        p_up = booster.predict_proba(X[case.test])[:, 1]
    return float(roc_auc_score(y[case.test], p_up))


def test_a_shuffled_future_feature_does_not_help_out_of_sample(leakage_case: LeakageCase) -> None:
    shuffled = np.random.default_rng(5).permutation(np.nan_to_num(leakage_case.forward))

    base = out_of_sample_auc(leakage_case)
    with_shuffled = out_of_sample_auc(leakage_case, shuffled)

    assert abs(base - 0.5) < 0.05
    assert abs(with_shuffled - 0.5) < 0.05
    assert abs(with_shuffled - base) < 0.05


def test_the_true_future_as_a_feature_would_be_caught(leakage_case: LeakageCase) -> None:
    """The teeth of the test above: a real leak scores far above chance."""
    assert out_of_sample_auc(leakage_case, np.nan_to_num(leakage_case.forward)) > 0.95


def test_the_training_pipeline_learns_nothing_from_a_random_walk(leakage_case: LeakageCase) -> None:
    """Features, labels, purged splits and train_model together: no leak, no skill."""
    data, label = leakage_case.dataset, LabelConfig(horizon=HORIZON, dead_zone=0.0)

    model = train_model(
        data.rows(leakage_case.train),
        features=FAST_FEATURES,
        label=label,
        config=FAST_MODEL,
        seed=1,
    )
    scores = prediction_metrics(
        model.predict_up(data.X[leakage_case.test]), data.y[leakage_case.test]
    )

    assert abs(scores.auc - 0.5) < 0.05


def test_build_dataset_without_bars_raises_data_error() -> None:
    with pytest.raises(DataError, match="empty"):
        build_dataset({}, features=FAST_FEATURES, label=LabelConfig())
