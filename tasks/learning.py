"""Tasks of the Continuous Learning Manager."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from components.learning import LearningConfig, LearningManager, ModelRegistry, RetrainResult
from components.market import SystemClock
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


def registry_for(settings: Settings) -> ModelRegistry:
    """The model registry of ``settings`` (artifacts under QT_HOME/models/)."""
    return ModelRegistry(
        runtime(settings).client,
        namespace=settings.namespace,
        home=settings.home.expanduser().resolve(),
    )


@io_task("retrain_model", retries=0)
def retrain_model(
    settings: Settings, bars: dict[str, pd.DataFrame], *, now: datetime, apply: bool
) -> RetrainResult:
    """Train a candidate on the latest window, score it against production on the same
    out-of-sample window, and promote it only on evidence (``apply=False``: decide only)."""
    manager = LearningManager(
        registry_for(settings),
        LearningConfig.from_settings(settings),
        clock=SystemClock(),
    )
    return manager.retrain(bars, seed=settings.clm_seed, now=now, apply=apply)
