"""The calibrated booster: learns a planted signal, is deterministic, refuses too little."""

from __future__ import annotations

import numpy as np
import pytest

from components.errors import DataError
from components.learning import (
    FeatureConfig,
    ModelConfig,
    PredictionModel,
    build_dataset,
    prediction_metrics,
    train_model,
)
from tests.unit.learning.builders import FAST_FEATURES, FAST_MODEL, NEXT_BAR, market


def _scores(model: PredictionModel, seed: int) -> tuple[float, float, float]:
    """AUC, mean predicted probability and realised up share on fresh bars."""
    data = build_dataset(market(1_500, phi=0.3, seed=seed), features=FAST_FEATURES, label=NEXT_BAR)
    p_up = model.predict_up(data.X)
    scores = prediction_metrics(p_up, data.y)
    labelled = data.labelled
    return scores.auc, float(p_up[labelled].mean()), float(data.y[labelled].mean())


def test_a_model_learns_a_planted_signal_with_calibrated_probabilities(
    signal_model: PredictionModel,
) -> None:
    auc, mean_predicted, realised = _scores(signal_model, seed=31)

    assert auc > 0.56
    assert abs(mean_predicted - realised) < 0.05


def test_training_with_the_same_seed_gives_the_same_model() -> None:
    data = build_dataset(market(1_200, phi=0.3, seed=5), features=FAST_FEATURES, label=NEXT_BAR)

    first, second = (
        train_model(data, features=FAST_FEATURES, label=NEXT_BAR, config=FAST_MODEL, seed=9)
        for _ in range(2)
    )

    np.testing.assert_array_equal(first.predict_up(data.X), second.predict_up(data.X))


def test_a_row_with_a_missing_feature_has_no_probability(signal_model: PredictionModel) -> None:
    X = np.zeros((2, len(signal_model.feature_names)))
    X[1, 0] = np.nan

    p_up = signal_model.predict_up(X)

    assert np.isfinite(p_up[0]) and np.isnan(p_up[1])


def test_probabilities_are_nan_during_the_warmup(signal_model: PredictionModel) -> None:
    bars = market(200, seed=3)["AAA/USDT"]
    columns = [bars[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]

    p_up = signal_model.probabilities(*columns)

    assert np.isnan(p_up[: signal_model.warmup - 1]).all()
    assert np.isfinite(p_up[signal_model.warmup - 1 :]).all()


def test_too_few_samples_raise_data_error() -> None:
    data = build_dataset(market(120, seed=1), features=FAST_FEATURES, label=NEXT_BAR)

    with pytest.raises(DataError, match="labelled samples"):
        train_model(data, features=FAST_FEATURES, label=NEXT_BAR, config=ModelConfig(), seed=1)


def test_a_dataset_of_other_features_is_refused() -> None:
    data = build_dataset(market(300, seed=1), features=FAST_FEATURES, label=NEXT_BAR)

    with pytest.raises(DataError, match="not those of the feature config"):
        train_model(data, features=FeatureConfig(), label=NEXT_BAR, seed=1)
