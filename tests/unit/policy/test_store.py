from __future__ import annotations

import json
import multiprocessing
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from components.errors import DataError, PolicyConflictError, PolicyValidationError
from components.events import RedisEventBus, stream_key
from components.policy import PolicyStore
from components.settings import RiskMode, Settings, load_settings
from tests.unit.evolution.builders import evaluation, store_candidates


@pytest.fixture
def store(client: redis.Redis, settings: Settings) -> PolicyStore:
    return PolicyStore(client, namespace=settings.namespace, settings=settings)


def snapshot(client: redis.Redis, namespace: str) -> tuple[Any, ...]:
    """Everything a policy write touches."""
    return (
        client.hgetall(f"{namespace}:policy"),
        client.llen(f"{namespace}:policy:history"),
        client.xlen(stream_key(namespace, "policy.updated")),
    )


def test_first_get_returns_the_settings_defaults_at_version_zero(store: PolicyStore) -> None:
    policy = store.get()
    assert policy.version == 0
    assert policy.max_positions == 5
    assert policy.risk_mode is RiskMode.NORMAL


def test_patch_deep_merges_and_bumps_the_version_by_one(store: PolicyStore) -> None:
    store.patch({"strategy_states": {"momentum": "shadow"}}, by="gen", reason="new")
    policy = store.patch({"strategy_states": {"breakout": "live"}}, by="gen", reason="promote")
    assert policy.version == 2
    assert policy.strategy_states == {"momentum": "shadow", "breakout": "live"}
    assert policy.updated_by == "gen"
    assert store.get() == policy


def test_every_write_has_its_history_entry_and_its_event(
    store: PolicyStore, client: redis.Redis, settings: Settings
) -> None:
    store.patch({"max_positions": 4}, by="ops", reason="fewer bets")
    store.set_risk_mode("DEFENSIVE", by="msc", reason="volatile market")
    store.patch({"opp_rankings": {"BTC/USDT": 0.9}}, by="ranker", reason="ranked")
    history = store.history()
    assert [h.version for h in history] == [3, 2, 1]
    assert history[2].diff == {"max_positions": {"old": 5, "new": 4}}
    assert history[1].by == "msc" and history[1].reason == "volatile market"
    events = RedisEventBus(client, namespace=settings.namespace).tail("policy.updated", count=10)
    assert [e.payload.version for e in events] == [1, 2, 3]  # type: ignore[attr-defined]
    assert events[0].payload.changes["max_positions"].new == 4  # type: ignore[attr-defined]
    assert events[2].source == "ranker"


def test_patch_when_version_is_stale_raises_conflict_and_changes_nothing(
    store: PolicyStore, client: redis.Redis, settings: Settings
) -> None:
    store.patch({"max_positions": 4}, by="a", reason="r")
    before = snapshot(client, settings.namespace)
    with pytest.raises(PolicyConflictError) as caught:
        store.patch({"max_positions": 3}, by="b", reason="r", expected_version=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert snapshot(client, settings.namespace) == before


def test_conflict_is_detected_even_when_another_process_wrote_meanwhile(
    client: redis.Redis, settings: Settings
) -> None:
    mine = PolicyStore(client, namespace=settings.namespace, settings=settings)
    theirs = PolicyStore(client, namespace=settings.namespace, settings=settings)
    seen = mine.get().version
    theirs.patch({"max_positions": 2}, by="them", reason="r")
    with pytest.raises(PolicyConflictError):
        mine.patch({"max_positions": 3}, by="me", reason="r", expected_version=seen)
    assert mine.get().max_positions == 2


def test_patch_past_a_guardrail_names_the_field_and_changes_nothing(
    store: PolicyStore, client: redis.Redis, settings: Settings
) -> None:
    before = snapshot(client, settings.namespace)
    with pytest.raises(PolicyValidationError) as caught:
        store.patch({"max_risk_per_trade": 0.5}, by="ai", reason="yolo")
    assert caught.value.field == "max_risk_per_trade"
    assert "QT_MAX_RISK_CAP=0.05" in str(caught.value)
    assert snapshot(client, settings.namespace) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"opp_rankings": {"BTC/USDT": float("nan")}}, "opp_rankings.BTC/USDT"),
        ({"opp_rankings": {"BTC/USDT": float("-inf")}}, "opp_rankings.BTC/USDT"),
        ({"opp_rankings": {"BTC/USDT": 1e308}}, "opp_rankings.BTC/USDT"),
        ({"stop_all_trading": "yes"}, "stop_all_trading"),
        ({"max_positions": "7"}, "max_positions"),
        ({"allowed_strategies": ["momentum", "nosuch"]}, "allowed_strategies.1"),
        ({"blocked_strategies": ["momentum_0000000000000000"]}, "blocked_strategies.0"),
        ({"strategy_states": {"nosuch": "shadow"}}, "strategy_states.nosuch"),
        ({"active_universe": ["X" * 70_000]}, "patch"),
    ],
)
def test_a_refused_patch_names_the_field_and_writes_nothing(
    store: PolicyStore,
    client: redis.Redis,
    settings: Settings,
    changes: dict[str, Any],
    field: str,
) -> None:
    store.patch({"max_positions": 4}, by="ops", reason="a first write")
    before = snapshot(client, settings.namespace)
    with pytest.raises(PolicyValidationError) as caught:
        store.patch(changes, by="ops", reason="test")
    assert caught.value.field == field
    assert snapshot(client, settings.namespace) == before


def test_a_patch_just_under_64_kib_is_accepted(store: PolicyStore) -> None:
    symbols = [f"S{i:05d}/USDT" for i in range(4_600)]
    size = len(json.dumps({"active_universe": symbols}, separators=(",", ":")))
    assert 60_000 < size <= 64 * 1024
    assert store.patch({"active_universe": symbols}, by="ops", reason="many").version == 1


def test_strategy_names_may_be_built_in_ml_or_stored_candidates(
    store: PolicyStore, client: redis.Redis, settings: Settings
) -> None:
    best = [evaluation("momentum", 2.0, lookback=30)]
    store_candidates(client, settings.namespace, best)
    name = best[0].candidate_name
    policy = store.patch(
        {
            "allowed_strategies": ["momentum", "ml", name],
            "blocked_strategies": ["breakout"],
            "strategy_states": {name: "shadow", "gone_0000000000000000": None},
        },
        by="ops",
        reason="every kind of name",
    )
    assert policy.allowed_strategies == ["momentum", "ml", name]


@pytest.mark.parametrize(
    ("field", "raw", "needle"),
    [
        ("max_positions", "{not json", "not JSON"),
        ("opp_rankings.BTC/USDT", "NaN", "finite"),
        ("stop_all_trading", '"yes"', "boolean"),
        ("risk_mode", '"RECKLESS"', "RECKLESS"),
        ("max_positions.x", "1", "entries"),
    ],
)
def test_a_corrupted_stored_entry_is_one_data_error_naming_key_and_field(
    store: PolicyStore, client: redis.Redis, settings: Settings, field: str, raw: str, needle: str
) -> None:
    store.patch({"max_positions": 4}, by="ops", reason="a first write")
    client.hset(f"{settings.namespace}:policy", field, raw)
    with pytest.raises(DataError) as caught:
        store.get()
    message = str(caught.value)
    assert f"{settings.namespace}:policy" in message and field in message and needle in message
    assert "\n" not in message


def test_patch_cannot_set_the_version(store: PolicyStore) -> None:
    with pytest.raises(PolicyValidationError, match="version"):
        store.patch({"version": 99}, by="x", reason="y")


def test_patch_needs_who_and_why(store: PolicyStore) -> None:
    with pytest.raises(PolicyValidationError, match="reason"):
        store.patch({"max_positions": 3}, by="x", reason="")


def test_patch_that_changes_nothing_writes_nothing(
    store: PolicyStore, client: redis.Redis, settings: Settings
) -> None:
    store.patch({"max_positions": 4}, by="a", reason="r")
    before = snapshot(client, settings.namespace)
    assert store.patch({"max_positions": 4}, by="a", reason="again").version == 1
    assert snapshot(client, settings.namespace) == before


def test_null_resets_a_field_to_its_settings_default(store: PolicyStore) -> None:
    store.patch({"max_positions": 2, "opp_rankings": {"A": 0.5, "B": 0.6}}, by="a", reason="r")
    policy = store.patch({"max_positions": None, "opp_rankings": {"A": None}}, by="a", reason="r")
    assert policy.max_positions == 5
    assert policy.opp_rankings == {"B": 0.6}


def test_rollback_restores_an_old_version_as_a_new_one(store: PolicyStore) -> None:
    store.patch({"max_positions": 4}, by="a", reason="r")
    store.patch({"max_positions": 2, "stop_all_trading": True}, by="b", reason="panic")
    policy = store.rollback(1, by="ops", reason="false alarm")
    assert policy.version == 3
    assert (policy.max_positions, policy.stop_all_trading) == (4, False)
    assert store.history(1)[0].reason == "rollback to version 1: false alarm"


def test_rollback_to_a_missing_version_names_it(store: PolicyStore) -> None:
    with pytest.raises(PolicyValidationError, match="7 does not exist"):
        store.rollback(7, by="ops", reason="r")


def test_rollback_past_the_kept_history_says_so(client: redis.Redis, settings: Settings) -> None:
    small = load_settings(**{**settings.model_dump(), "policy_history_limit": 10})
    store = PolicyStore(client, namespace=settings.namespace, settings=small)
    for n in range(12):
        store.patch({"max_positions": n % 5 + 1}, by="a", reason="r")
    with pytest.raises(PolicyValidationError, match="older than the history kept"):
        store.rollback(1, by="ops", reason="r")


patches = st.one_of(
    st.builds(lambda n: {"max_positions": n}, st.integers(min_value=-2, max_value=60)),
    st.builds(lambda r: {"max_risk_per_trade": r}, st.floats(min_value=-0.1, max_value=0.2)),
    st.builds(lambda m: {"risk_mode": m}, st.sampled_from(["AGGRESSIVE", "NORMAL", "CALM"])),
    st.builds(
        lambda k, v: {"model_versions": {k: v}},
        st.sampled_from(["clm", "ranker"]),
        st.sampled_from(["v1", "v2"]),
    ),
    st.just({"unknown_field": 1}),
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(patches, min_size=1, max_size=6))
def test_version_grows_by_exactly_one_per_write_and_rejected_writes_change_nothing(
    store: PolicyStore, client: redis.Redis, settings: Settings, changes: list[dict[str, Any]]
) -> None:
    for change in changes:
        before = snapshot(client, settings.namespace)
        version = store.get().version
        try:
            policy = store.patch(change, by="prop", reason="hypothesis")
        except PolicyValidationError:
            assert snapshot(client, settings.namespace) == before
            continue
        if snapshot(client, settings.namespace) == before:  # nothing to change
            assert policy.version == version
        else:
            assert policy.version == version + 1
            assert store.history(1)[0].version == policy.version


def _patch_many(redis_url: str, namespace: str, worker: int, count: int) -> None:
    settings = load_settings(redis_url=redis_url, namespace=namespace)
    store = PolicyStore.connect(settings)
    for n in range(count):
        store.patch(
            {"model_versions": {f"w{worker}": f"v{n}"}}, by=f"worker-{worker}", reason="load"
        )


def test_processes_patching_different_keys_at_once_lose_no_update(
    store: PolicyStore, settings: Settings, client: redis.Redis
) -> None:
    workers, count = 6, 40
    assert settings.redis_url is not None
    url = settings.redis_url.get_secret_value()
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_patch_many, args=(url, settings.namespace, w, count))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    policy = store.get()
    assert policy.version == workers * count
    assert policy.model_versions == {f"w{w}": f"v{count - 1}" for w in range(workers)}
    assert client.llen(f"{settings.namespace}:policy:history") == workers * count
    assert client.xlen(stream_key(settings.namespace, "policy.updated")) == workers * count
