"""Retraining with shadow evaluation: promote on evidence only, keep the rest retired."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis

from components.clock import ManualClock
from components.errors import DataError
from components.events import Event
from components.events.types import MODEL_PROMOTED
from components.learning import (
    DataWindow,
    LearningConfig,
    LearningManager,
    ModelRegistry,
    RetrainResult,
)
from components.policy import PolicyStore
from components.settings import Settings
from tests.unit.learning.builders import START, fast_learning_config, market

NOW = datetime(2026, 2, 1, tzinfo=UTC)
BARS = 2_400  # feature warm-up + 1,600 training + purge and embargo + 600 evaluation
SIGNAL = 0.3  # phi of the planted signal: the next bar's direction is predictable


def _manager(registry: ModelRegistry, config: LearningConfig | None = None) -> LearningManager:
    return LearningManager(registry, config or fast_learning_config(), clock=ManualClock(NOW))


def _later(k: int) -> pd.Timestamp:
    """The start of the k-th block of bars: retrainings see fresh, later bars."""
    return START + pd.Timedelta(hours=BARS * k)


def _noise(k: int) -> dict[str, pd.DataFrame]:
    return market(BARS, phi=0.0, seed=k, start=_later(k))


def _signal(k: int) -> dict[str, pd.DataFrame]:
    return market(BARS, phi=SIGNAL, seed=k, start=_later(k))


def _noise_in_production(manager: LearningManager, registry: ModelRegistry) -> None:
    """A production model learnt from a random walk, promoted by hand (the rules would
    not promote it)."""
    first = manager.retrain(_noise(0), seed=1)
    registry.promote("price_direction", first.version, now=NOW, reason="tests")


def test_the_first_model_is_promoted_when_it_beats_the_baselines(
    registry: ModelRegistry,
) -> None:
    result = _manager(registry).retrain(_signal(0), seed=1)

    assert result.promoted, result.summary()
    assert result.version == "v0001" and result.previous_version is None
    assert result.production is None
    assert "the first model is sane" in result.reasons[0]
    assert "baseline chance" in result.reasons[1] and "beats 0.5" in result.reasons[1]
    assert "baseline doing nothing" in result.reasons[2] and "beats 0" in result.reasons[2]
    assert len(result.candidate.fold_auc) == 5
    assert result.candidate.prediction.auc - result.candidate.auc_standard_error > 0.5
    assert registry.get("price_direction", "production").version == "v0001"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_on_an_empty_registry_a_model_no_better_than_chance_stays_a_candidate(
    registry: ModelRegistry, seed: int
) -> None:
    result = _manager(registry).retrain(_noise(seed), seed=1)

    assert not result.promoted and not result.approved
    assert registry.production("price_direction") is None
    kept = registry.get("price_direction", result.version)
    assert kept.tag == "candidate"
    assert kept.evidence["decision"] == "rejected"
    why = "; ".join(result.reasons)
    assert "does not beat 0.5" in why or "does not beat 0" in why
    assert "not promoted" in result.summary() and "baseline" in result.summary()
    assert "the ml strategy stays out of the allowed strategies" in result.summary()


def test_a_first_model_below_the_sanity_floor_is_not_promoted(registry: ModelRegistry) -> None:
    config = fast_learning_config(first_min_auc=0.99)

    result = _manager(registry, config).retrain(_signal(0), seed=1)

    assert not result.promoted
    assert "not sane" in result.reasons[0]
    assert registry.production("price_direction") is None
    assert registry.get("price_direction", result.version).tag == "candidate"


def test_a_better_candidate_is_promoted(registry: ModelRegistry) -> None:
    manager = _manager(registry)
    _noise_in_production(manager, registry)  # production: learnt from a random walk

    result = manager.retrain(_signal(1), seed=1)  # candidate: learnt a real signal

    assert result.promoted, result.summary()
    assert (result.version, result.previous_version) == ("v0002", "v0001")
    assert result.production is not None
    assert result.candidate.prediction.log_loss < result.production.prediction.log_loss
    assert result.candidate.prediction.auc > result.production.prediction.auc
    assert result.candidate.trading.sharpe > result.production.trading.sharpe
    assert registry.get("price_direction", "production").version == "v0002"
    assert registry.get("price_direction", "v0001").tag == "retired"


def test_a_worse_candidate_is_not_promoted_and_is_kept_retired_with_its_evidence(
    registry: ModelRegistry,
) -> None:
    manager = _manager(registry)
    manager.retrain(_signal(0), seed=1)  # production: knows the signal
    phi = np.zeros(BARS)
    phi[-700:] = SIGNAL  # the signal is back only in the evaluation window
    bars = market(BARS, phi=phi, seed=1, start=_later(1))

    result = manager.retrain(bars, seed=1)  # candidate: trained where there was none

    assert not result.promoted, result.summary()
    assert result.previous_version == "v0001" and result.production_version == "v0001"
    assert any("does not beat" in reason for reason in result.reasons)
    assert registry.get("price_direction", "production").version == "v0001"
    kept = registry.get("price_direction", result.version)
    assert kept.tag == "retired"
    assert kept.evidence["decision"] == "rejected"
    assert not result.approved
    assert kept.evidence["production"]["version"] == "v0001"
    assert kept.evidence["candidate"]["prediction"]["log_loss"] == pytest.approx(
        result.candidate.prediction.log_loss
    )
    assert kept.metrics["auc"] == pytest.approx(result.candidate.prediction.auc)


def test_an_approved_candidate_is_not_promoted_when_not_applied(registry: ModelRegistry) -> None:
    manager = _manager(registry)
    _noise_in_production(manager, registry)

    result = manager.retrain(_signal(1), seed=1, apply=False)  # a module in OBSERVE mode

    assert result.approved and not result.promoted
    assert result.policy_patch() == {} and result.event_payload() is None
    assert registry.get("price_direction", "production").version == "v0001"
    assert registry.get("price_direction", result.version).tag == "candidate"


def test_candidate_and_production_are_scored_on_the_same_window(registry: ModelRegistry) -> None:
    manager = _manager(registry)
    _noise_in_production(manager, registry)

    result = manager.retrain(_signal(1), seed=1)

    assert result.production is not None
    assert result.candidate.prediction.samples == result.production.prediction.samples
    assert result.candidate.trading.bars == result.production.trading.bars
    assert result.eval_window.start > result.train_window.end


def test_retraining_is_deterministic_with_a_seed(registry: ModelRegistry) -> None:
    manager = _manager(registry)
    first = manager.retrain(_signal(0), seed=7)

    again = manager.retrain(_signal(0), seed=7)  # same bars, same seed: the same model

    assert again.production is not None
    assert again.candidate.metrics() == first.candidate.metrics()
    assert again.production.metrics() == first.candidate.metrics()
    assert not again.promoted  # no gain at all is not a gain
    assert "production_in_sample" not in registry.get("price_direction", first.version).evidence


def test_a_production_model_trained_on_the_evaluation_window_is_noted_in_the_evidence(
    registry: ModelRegistry,
) -> None:
    _manager(registry).retrain(_signal(0), seed=7)
    longer_evaluation = _manager(registry, fast_learning_config(train_bars=1_000, eval_bars=900))

    result = longer_evaluation.retrain(_signal(0), seed=7)  # its window reaches back into
    # the bars production was trained on

    evidence = registry.get("price_direction", result.version).evidence
    assert "inside the evaluation window" in evidence["production_in_sample"]


def test_a_missing_production_artifact_falls_back_to_the_first_model_rule(
    registry: ModelRegistry,
) -> None:
    manager = _manager(registry)
    _noise_in_production(manager, registry)
    registry.artifact_path("price_direction", "v0001").unlink()

    result = manager.retrain(_signal(1), seed=1)

    assert result.promoted
    assert "cannot be loaded" in result.reasons[0]


def test_the_caller_gets_a_policy_patch_and_an_event_payload(
    registry: ModelRegistry, client: redis.Redis, namespace: str
) -> None:
    result = _manager(registry).retrain(_signal(0), seed=1)
    store = PolicyStore(client, namespace=namespace)

    policy = store.patch(result.policy_patch(), by="clm", reason=result.summary())
    payload = result.event_payload()

    assert policy.model_versions == {"price_direction": "v0001"}
    assert payload is not None
    event = Event.create(MODEL_PROMOTED, payload.model_dump(), source="clm")
    assert event.payload.model_dump()["metrics"]["auc"] == pytest.approx(
        result.candidate.prediction.auc
    )


def test_a_rejected_candidate_patches_nothing_and_announces_nothing() -> None:
    result = RetrainResult.model_validate(
        {
            "model": "m",
            "version": "v0002",
            "approved": False,
            "promoted": False,
            "previous_version": "v0001",
            "reasons": ["worse"],
            "candidate": _evaluation(),
            "production": _evaluation(),
            "train_window": {"start": NOW, "end": NOW},
            "eval_window": {"start": NOW, "end": NOW},
            "trained_at": NOW,
            "seed": 1,
        }
    )

    assert result.policy_patch() == {}
    assert result.event_payload() is None


def test_retraining_uses_the_clock_when_no_time_is_given(registry: ModelRegistry) -> None:
    result = _manager(registry).retrain(_noise(0), seed=1)

    assert result.trained_at == NOW
    assert registry.get("price_direction", "v0001").trained_at == NOW


def test_too_few_bars_raise_data_error_and_register_nothing(registry: ModelRegistry) -> None:
    with pytest.raises(DataError, match="too few bars"):
        _manager(registry).retrain(market(500, seed=1), seed=1, now=NOW + timedelta(days=1))

    assert registry.list("price_direction") == []


def _evaluation() -> dict[str, object]:
    return {
        "version": "v0001",
        "prediction": {"log_loss": 0.69, "auc": 0.5, "brier": 0.25, "samples": 10, "up_share": 0.5},
        "trading": {
            "total_return": 0.0,
            "sharpe": 0.0,
            "trades": 0,
            "exposure": 0.0,
            "bars": 10,
            "costs": 0.0,
        },
    }


def test_the_config_comes_from_settings_with_the_paper_costs(settings: Settings) -> None:
    config = LearningConfig.from_settings(settings, eval_bars=168)

    assert config.costs == settings.paper.costs
    assert config.bars_per_year == 24 * 365
    assert config.eval_bars == 168
    assert config.features.regime is not None
    assert config.features.regime.high_volatility == settings.msc.high_volatility


def test_walk_forward_splits_are_trained_and_scored_out_of_sample_oldest_first(
    registry: ModelRegistry,
) -> None:
    config = fast_learning_config(train_bars=800, eval_bars=400, walk_forward_folds=3)

    result = _manager(registry, config).retrain(_signal(0), seed=3)

    folds = result.walk_forward
    assert len(folds) == 3
    for fold in folds:
        assert fold.train_window.end < fold.test_window.start
    for older, newer in itertools.pairwise(folds):
        assert older.test_window.end < newer.test_window.start  # tiled back, no overlap
    assert folds[-1].train_window == result.train_window
    assert folds[-1].test_window == result.eval_window
    assert folds[-1].scores == result.candidate.model_copy(update={"version": None})
    stored = registry.get("price_direction", result.version).evidence["walk_forward"]
    assert [DataWindow.model_validate(f["test_window"]) for f in stored] == [
        f.test_window for f in folds
    ]


def test_the_splits_fan_out_through_map_fn_with_the_same_result_as_map(
    registry: ModelRegistry,
) -> None:
    config = fast_learning_config(train_bars=800, eval_bars=400, walk_forward_folds=2)
    jobs_seen: list[int] = []

    def recording_map(fn: Any, jobs: Any) -> list[Any]:
        jobs = list(jobs)
        jobs_seen.append(len(jobs))
        return [fn(job) for job in reversed(jobs)][::-1]  # any order of work, results in order

    plain = _manager(registry, config).retrain(_signal(0), seed=5, apply=False)
    mapped = _manager(registry, config).retrain(
        _signal(0), seed=5, apply=False, map_fn=recording_map
    )

    assert jobs_seen == [2]
    assert mapped.walk_forward == plain.walk_forward
    assert mapped.candidate.metrics() == plain.candidate.metrics()
