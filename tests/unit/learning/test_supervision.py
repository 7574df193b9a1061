"""The Model Supervisor wired to a model and the registry: flags, weight, strategy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from components.learning import ModelRegistry
from components.learning.supervisor import SupervisorIssue, supervise
from tests.unit.learning.builders import market

NOW = datetime(2026, 3, 2, tzinfo=UTC)


class ConstantModel:
    """Predicts the same up-probability for every bar."""

    def __init__(self, p_up: float) -> None:
        self.p_up = p_up

    def probabilities(self, *columns: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        return np.full(np.shape(columns[3]), self.p_up)


def test_a_model_that_predicts_one_direction_only_is_flagged() -> None:
    bars = market(400)
    verdict = supervise(ConstantModel(0.8), bars, threshold=0.55, horizon=4)
    assert not verdict.ok
    assert SupervisorIssue.BIAS in verdict.issues
    assert verdict.confidence_weight < 1 and verdict.retrain_requested


def test_no_bars_no_judgement() -> None:
    verdict = supervise(ConstantModel(0.8), {}, threshold=0.55, horizon=4)
    assert verdict.ok and verdict.confidence_weight == 1


def test_the_registry_keeps_the_verdict_and_its_confidence_weight(
    registry: ModelRegistry,
) -> None:
    assert registry.confidence_weight("price_direction") == 1.0
    verdict = supervise(ConstantModel(0.8), market(400), threshold=0.55, horizon=4)
    registry.record_supervision("price_direction", verdict, now=NOW)
    assert registry.confidence_weight("price_direction") == verdict.confidence_weight
    record = registry.supervision("price_direction")
    assert record is not None and record["reasons"] == list(verdict.reasons)
