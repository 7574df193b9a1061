"""The Model Supervisor flags bias, calibration drift and confidence collapse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.errors import DataError
from components.learning import (
    ModelSupervisor,
    PredictionRecord,
    SupervisorConfig,
    SupervisorIssue,
)
from components.learning.supervisor import expected_calibration_error

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def calibrated(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions of a healthy model: spread on both sides, outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    p_up = rng.uniform(0.3, 0.7, n)
    direction = np.where(p_up >= 0.55, 1, np.where(p_up <= 0.45, -1, 0))
    outcome = (rng.uniform(size=n) < p_up).astype(float)
    return p_up, direction, outcome


def test_a_model_that_predicts_one_direction_only_is_flagged() -> None:
    records = [
        PredictionRecord(at=T0 + timedelta(hours=k), symbol="BTC/USDT", p_up=0.62, direction=1)
        for k in range(200)
    ]

    verdict = ModelSupervisor().review(records)

    assert not verdict.ok
    assert SupervisorIssue.BIAS in verdict.issues
    assert verdict.confidence_weight < 1.0
    assert verdict.retrain_requested
    assert verdict.health_status == "DEGRADED"
    assert any("100% of predictions are" in reason for reason in verdict.reasons)


def test_a_healthy_model_is_ok() -> None:
    verdict = ModelSupervisor().review_arrays(*calibrated(2_000))

    assert verdict.ok, verdict.reasons
    assert verdict.confidence_weight == 1.0
    assert not verdict.retrain_requested
    assert verdict.stats.calibration_error is not None


def test_probabilities_that_no_longer_match_outcomes_are_calibration_drift() -> None:
    p_up, direction, _ = calibrated(2_000)
    outcome = (p_up < 0.5).astype(float)  # the market now does the opposite

    verdict = ModelSupervisor().review_arrays(p_up, direction, outcome)

    assert verdict.issues == (SupervisorIssue.CALIBRATION_DRIFT,)


def test_probabilities_stuck_near_one_half_are_a_confidence_collapse() -> None:
    rng = np.random.default_rng(1)
    p_up = 0.5 + rng.uniform(-0.01, 0.01, 500)

    verdict = ModelSupervisor().review_arrays(p_up, np.zeros(500))

    assert verdict.issues == (SupervisorIssue.CONFIDENCE_COLLAPSE,)


def test_every_issue_lowers_the_weight_but_never_below_the_floor() -> None:
    config = SupervisorConfig(weight_penalty=0.5, min_weight=0.2, min_outcomes=50)
    p_up = np.full(300, 0.51)  # all up, barely: bias and collapse
    outcome = np.zeros(300)  # never up: drift

    verdict = ModelSupervisor(config).review_arrays(p_up, np.zeros(300), outcome)

    assert set(verdict.issues) == set(SupervisorIssue)
    assert verdict.confidence_weight == 0.2


def test_too_few_predictions_are_not_judged() -> None:
    verdict = ModelSupervisor(SupervisorConfig(min_predictions=50)).review_arrays(
        np.full(10, 0.9), np.ones(10)
    )

    assert verdict.ok
    assert "not judged" in verdict.reasons[0]


def test_probabilities_outside_zero_one_are_refused() -> None:
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ModelSupervisor().review_arrays([1.2], [1])


@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=50), seed=st.integers(0, 10))
def test_calibration_error_lies_in_zero_one(p: list[float], seed: int) -> None:
    outcome = np.random.default_rng(seed).integers(0, 2, len(p))

    assert 0.0 <= expected_calibration_error(p, outcome) <= 1.0
