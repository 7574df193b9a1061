"""Tasks of the Continuous Learning Manager."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from components.learning import (
    LearningConfig,
    LearningManager,
    ModelRegistry,
    RetrainResult,
    train_fold,
)
from components.settings import Settings
from tasks.common import compute_task, io_task
from tasks.research import task_map
from tasks.runtime import runtime

# One task trains and scores one walk-forward split (on the flow's task runner: the local
# process pool, or Dask at QT_DASK_ADDRESS).
train_walk_forward_fold = compute_task("train_walk_forward_fold")(train_fold)


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
    out-of-sample window, and promote it only on evidence (``apply=False``: decide only).
    The walk-forward splits train as tasks of their own, in parallel on the flow's task
    runner."""
    manager = LearningManager(
        registry_for(settings),
        LearningConfig.from_settings(settings),
        clock=runtime(settings).clock,
    )
    return manager.retrain(
        bars,
        seed=settings.clm.seed,
        now=now,
        apply=apply,
        map_fn=task_map(train_walk_forward_fold),
    )


@io_task("supervise_model")
def supervise_model(settings: Settings, bars: dict[str, pd.DataFrame], *, now: datetime) -> Any:
    """Review the production model's recent predictions; on an issue lower its confidence
    weight, warn through the health status, and ask for a retrain. None without a model."""
    from components.health import HealthStatus, HealthStore
    from components.learning.supervisor import supervise

    registry = registry_for(settings)
    model_name = settings.clm.model_name
    if registry.production(model_name) is None:
        return None
    verdict = supervise(
        registry.load(model_name),
        bars,
        threshold=settings.clm.threshold,
        horizon=settings.clm.horizon,
    )
    registry.record_supervision(model_name, verdict, now=now)
    if not verdict.ok:
        health = HealthStore(runtime(settings).client, namespace=settings.namespace)
        current = health.get()
        if current is None or current.status is HealthStatus.HEALTHY:
            reasons = [f"model supervisor: {reason}" for reason in verdict.reasons]
            _, event = health.record(
                HealthStatus.DEGRADED, now=now, reasons=reasons, source="model-supervisor"
            )
            if event is not None:
                runtime(settings).bus.notify_written([event])
        if verdict.retrain_requested:
            request_retrain(settings)
    return verdict


def request_retrain(settings: Settings) -> bool:
    """Start a clm-retraining run now, where a Prefect server runs the deployment; True
    if one was started (otherwise the weekly schedule, or `quantum-trader retrain`)."""
    import logging

    from prefect.deployments import run_deployment

    try:
        run_deployment("clm-retraining/clm-retraining", timeout=0)
    except Exception as exc:  # no server, or the deployment is not served here
        logging.getLogger(__name__).warning("could not request a retrain: %s", exc)
        return False
    return True
