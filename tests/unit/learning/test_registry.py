"""The model registry on a real Redis: round trips, tags, promotion, rollback, artifacts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import joblib
import pytest
import redis

from components.errors import ConfigurationError
from components.events import Event
from components.events.types import MODEL_PROMOTED
from components.learning import (
    DataWindow,
    ModelArtifactError,
    ModelNotFoundError,
    ModelRegistry,
    PredictionModel,
)
from tests.unit.learning.conftest import same_probabilities

MODEL = "price_direction"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = DataWindow(start=T0 - timedelta(days=90), end=T0, symbols=("AAA/USDT",), bars=2_160)


def _register(registry: ModelRegistry, model: PredictionModel, n: int = 1) -> list[str]:
    return [
        registry.register(
            MODEL,
            model,
            trained_at=T0 + timedelta(hours=k),
            data_window=WINDOW,
            metrics={"auc": 0.55 + k / 100, "log_loss": 0.69},
        ).version
        for k in range(n)
    ]


# --- round trip --------------------------------------------------------------------------------


def test_register_keeps_metadata_in_redis_and_the_artifact_on_disk(
    registry: ModelRegistry, signal_model: PredictionModel, client: redis.Redis, namespace: str
) -> None:
    entry = registry.register(
        MODEL,
        signal_model,
        trained_at=T0,
        data_window=WINDOW,
        metrics={"auc": 0.57, "log_loss": 0.68},
        evidence={"why": "test"},
    )

    raw = client.hget(f"{namespace}:models:{MODEL}:versions", "v0001")
    assert raw is not None
    stored = json.loads(str(raw))
    assert stored["tag"] == "candidate"
    assert stored["metrics"] == {"auc": 0.57, "log_loss": 0.68}
    assert stored["features"] == list(signal_model.feature_names)
    assert stored["data_window"]["bars"] == 2_160
    path = registry.home / "models" / namespace / MODEL / "v0001.joblib"
    assert path.is_file()
    assert registry.artifact_path(MODEL, 1) == path
    assert registry.get(MODEL, "v0001") == entry
    assert registry.models() == [MODEL]
    assert same_probabilities(registry.load(MODEL, "v0001"), signal_model)


def test_versions_count_up_from_v0001(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    assert _register(registry, signal_model, 3) == ["v0001", "v0002", "v0003"]
    assert [v.version for v in registry.list(MODEL)] == ["v0001", "v0002", "v0003"]


def test_a_fresh_registry_has_no_production_model(registry: ModelRegistry) -> None:
    assert registry.production(MODEL) is None
    with pytest.raises(ModelNotFoundError, match="no production version"):
        registry.load(MODEL)


def test_an_unknown_version_names_the_known_ones(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    _register(registry, signal_model)

    with pytest.raises(ModelNotFoundError, match=r"no version v0007 \(versions: v0001\)"):
        registry.get(MODEL, "v0007")


def test_a_bad_model_name_is_refused(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    with pytest.raises(ConfigurationError, match="model name"):
        registry.register("../escape", signal_model, trained_at=T0)


# --- artifacts ---------------------------------------------------------------------------------


def test_loading_a_missing_artifact_raises_a_clear_error(
    registry: ModelRegistry, signal_model: PredictionModel, client: redis.Redis
) -> None:
    (version,) = _register(registry, signal_model)
    registry.artifact_path(MODEL, version).unlink()

    with pytest.raises(ModelArtifactError, match=r"v0001: its artifact .*v0001\.joblib is missing"):
        registry.load(MODEL, version)


def test_an_altered_artifact_is_refused(
    registry: ModelRegistry, signal_model: PredictionModel, noise_model: PredictionModel
) -> None:
    (version,) = _register(registry, signal_model)
    joblib.dump(noise_model, registry.artifact_path(MODEL, version))  # replaced behind its back

    with pytest.raises(ModelArtifactError, match="does not match the checksum"):
        registry.load(MODEL, version)


def test_promoting_a_version_without_its_artifact_changes_nothing(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    first, second = _register(registry, signal_model, 2)
    registry.promote(MODEL, first, now=T0)
    registry.artifact_path(MODEL, second).unlink()

    with pytest.raises(ModelArtifactError):
        registry.promote(MODEL, second, now=T0)

    assert registry.get(MODEL, "production").version == first


# --- promotion and rollback ---------------------------------------------------------------------


def test_promote_retires_the_previous_production_version(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    first, second = _register(registry, signal_model, 2)

    registry.promote(MODEL, first, now=T0, reason="first")
    change = registry.promote(MODEL, second, now=T0 + timedelta(days=7), evidence={"auc": 0.6})

    assert change.previous_version == first and change.version == second
    assert registry.get(MODEL, first).tag == "retired"
    assert registry.get(MODEL, second).tag == "production"
    assert registry.get(MODEL, second).evidence == {"auc": 0.6}
    assert [e.tag for e in registry.list(MODEL)] == ["retired", "production"]
    assert registry.lineage(MODEL) == [first, second]


def test_rollback_restores_the_previous_production_version(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    first, second, third = _register(registry, signal_model, 3)
    for k, version in enumerate((first, second, third)):
        registry.promote(MODEL, version, now=T0 + timedelta(days=k))

    change = registry.rollback(MODEL, now=T0 + timedelta(days=5), reason="live loss")

    assert (change.version, change.previous_version, change.action) == (
        second,
        third,
        "rolled_back",
    )
    assert registry.get(MODEL, "production").version == second
    assert registry.get(MODEL, third).tag == "retired"
    # once more goes one further back, not forth again
    assert registry.rollback(MODEL, now=T0 + timedelta(days=6)).version == first
    assert registry.get(MODEL, "production").version == first
    with pytest.raises(ModelNotFoundError, match="no earlier production version"):
        registry.rollback(MODEL, now=T0 + timedelta(days=7))


def test_history_keeps_every_production_change_newest_first(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    first, second = _register(registry, signal_model, 2)
    registry.promote(MODEL, first, now=T0, reason="first")
    registry.promote(MODEL, second, now=T0 + timedelta(days=1), reason="better")
    registry.rollback(MODEL, now=T0 + timedelta(days=2), reason="worse live")

    history = registry.history(MODEL)

    assert [(h.action, h.version, h.previous_version) for h in history] == [
        ("rolled_back", first, second),
        ("promoted", second, first),
        ("promoted", first, None),
    ]
    assert history[0].reason == "worse live"


def test_promoting_the_production_version_again_is_refused(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    (version,) = _register(registry, signal_model)
    registry.promote(MODEL, version, now=T0)

    with pytest.raises(ConfigurationError, match="already in production"):
        registry.promote(MODEL, version, now=T0)


def test_set_tag_moves_a_version_between_candidate_and_retired_only(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    first, second = _register(registry, signal_model, 2)
    registry.promote(MODEL, first, now=T0)

    assert registry.set_tag(MODEL, second, "retired", now=T0).tag == "retired"
    with pytest.raises(ConfigurationError, match="use promote"):
        registry.set_tag(MODEL, second, "production", now=T0)
    with pytest.raises(ConfigurationError, match="is in production"):
        registry.set_tag(MODEL, first, "retired", now=T0)


def test_the_production_model_loads_by_default(
    registry: ModelRegistry, signal_model: PredictionModel, noise_model: PredictionModel
) -> None:
    registry.register(MODEL, noise_model, trained_at=T0)
    registry.register(MODEL, signal_model, trained_at=T0)
    registry.promote(MODEL, "v0002", now=T0)

    assert same_probabilities(registry.load(MODEL), signal_model)
    registry.promote(MODEL, 1, now=T0 + timedelta(hours=1))
    assert same_probabilities(registry.load(MODEL), noise_model)


def test_a_production_change_gives_its_event_payload_and_policy_patch(
    registry: ModelRegistry, signal_model: PredictionModel
) -> None:
    (version,) = _register(registry, signal_model)

    change = registry.promote(MODEL, version, now=T0)
    event = Event.create(MODEL_PROMOTED, change.event_payload().model_dump(), source="tests")

    assert event.payload.model_dump()["version"] == "v0001"
    assert change.policy_patch() == {"model_versions": {MODEL: "v0001"}}
