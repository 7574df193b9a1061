"""Tasks of the Meta Strategy Controller."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from components.health import HealthStore
from components.redis import namespaced
from components.regime import (
    ClassifierConfig,
    HealthSnapshot,
    MarketClassification,
    MetaStrategyController,
    MSCInputs,
    MSCMemory,
    PerformanceSnapshot,
    RegimeAssessment,
    RegimeClassifier,
)
from components.settings import Settings
from tasks.common import compute_task, io_task
from tasks.runtime import runtime


def classifier(settings: Settings, timeframe: str) -> RegimeClassifier:
    return RegimeClassifier(ClassifierConfig.from_msc(settings.msc, timeframe=timeframe))


@compute_task("classify_market")
def classify_market(
    settings: Settings, bars: dict[str, pd.DataFrame], timeframe: str
) -> MarketClassification:
    return classifier(settings, timeframe).classify(bars)


@io_task("read_health")
def read_health(settings: Settings, now: datetime) -> HealthSnapshot:
    """The latest health verdict; HEALTHY since ``now`` when no check has run yet."""
    record = HealthStore(runtime(settings).client, namespace=settings.namespace).get()
    if record is None:
        return HealthSnapshot.unchecked(now)
    return HealthSnapshot(
        status=record.status, since=record.since, detail="; ".join(record.reasons) or None
    )


def _memory_key(settings: Settings) -> str:
    return namespaced(settings.namespace, "msc", "memory")


@io_task("load_msc_memory")
def load_msc_memory(settings: Settings) -> MSCMemory | None:
    raw = runtime(settings).client.get(_memory_key(settings))
    return MSCMemory.model_validate_json(str(raw)) if raw else None


@io_task("save_msc_memory")
def save_msc_memory(settings: Settings, memory: MSCMemory) -> None:
    runtime(settings).client.set(_memory_key(settings), memory.model_dump_json())


@compute_task("decide_risk_mode")
def decide_risk_mode(
    settings: Settings,
    classification: MarketClassification,
    health: HealthSnapshot,
    performance: PerformanceSnapshot | None,
    memory: MSCMemory | None,
    now: datetime,
) -> RegimeAssessment:
    inputs = MSCInputs.of(classification, health, performance)
    return MetaStrategyController.from_settings(settings).decide(inputs, memory, now=now)
