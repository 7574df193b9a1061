"""Fixtures of the learning tests: one small model trained once, and a registry per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import redis

from components.learning import ModelRegistry, PredictionModel, build_dataset, train_model
from tests.unit.learning.builders import FAST_FEATURES, FAST_MODEL, NEXT_BAR, market


@pytest.fixture(scope="session")
def signal_model() -> PredictionModel:
    """A model trained on bars whose next-bar direction is predictable (phi = 0.3)."""
    bars = market(2_000, phi=0.3, seed=11)
    dataset = build_dataset(bars, features=FAST_FEATURES, label=NEXT_BAR)
    return train_model(dataset, features=FAST_FEATURES, label=NEXT_BAR, config=FAST_MODEL, seed=3)


@pytest.fixture(scope="session")
def noise_model() -> PredictionModel:
    """A model trained on a random walk: it has learnt nothing real."""
    bars = market(2_000, phi=0.0, seed=12)
    dataset = build_dataset(bars, features=FAST_FEATURES, label=NEXT_BAR)
    return train_model(dataset, features=FAST_FEATURES, label=NEXT_BAR, config=FAST_MODEL, seed=3)


@pytest.fixture
def registry(client: redis.Redis, namespace: str, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(client, namespace=namespace, home=tmp_path / "home")


def same_probabilities(a: PredictionModel, b: PredictionModel) -> bool:
    """Whether two models give identical probabilities on the same bars."""
    bars = market(400, phi=0.3, seed=99)["AAA/USDT"]
    columns = [bars[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    return bool(
        np.array_equal(a.probabilities(*columns), b.probabilities(*columns), equal_nan=True)
    )
