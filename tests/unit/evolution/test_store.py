"""EvolutionStore on a real Redis: runs, genomes and candidates round trip, and a stored
candidate resolves to the strategy the engine trades."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import redis

from components.evolution import (
    BarArrays,
    EvolutionResult,
    EvolutionStore,
    StrategyGenerator,
)
from components.evolution.keys import is_stored_candidate
from components.strategies import MomentumStrategy, create_strategy
from tests.unit.evolution.builders import small_config, synthetic_bars

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> BarArrays:
    return BarArrays.from_frames(synthetic_bars())


@pytest.fixture(scope="module")
def result(data: BarArrays) -> EvolutionResult:
    return StrategyGenerator(small_config()).run(data)


@pytest.fixture
def store(client: redis.Redis, namespace: str) -> EvolutionStore:
    return EvolutionStore(client, namespace=namespace)


def test_a_saved_run_loads_back_whole(store: EvolutionStore, result: EvolutionResult) -> None:
    run = store.save_run(result, started_at=T0, finished_at=T0 + timedelta(seconds=42))

    loaded = store.load_run(run.run_id)

    assert loaded == run
    assert run.run_id.startswith("20260301T020000Z_11_")
    assert (run.seed, run.evaluated) == (11, len(result.evaluations))
    assert run.config == result.config
    assert run.generations == result.generations
    assert run.best == tuple(e.candidate_name for e in result.best(10))
    assert store.runs() == [run]


def test_every_genome_is_stored_with_its_folds_and_lineage(
    store: EvolutionStore, result: EvolutionResult
) -> None:
    run = store.save_run(result, started_at=T0, finished_at=T0)

    stored = {e.genome.id: e for e in store.evaluations(run.run_id)}

    assert stored == {e.genome.id: e for e in result.evaluations}
    child = next(e for e in result.evaluations if e.genome.parents)
    assert store.evaluation(run.run_id, child.genome.id) == child
    rejected = [e for e in stored.values() if not e.passed]
    assert all(e.fitness == -math.inf for e in rejected)  # -inf survives the JSON trip


def test_best_lists_the_candidates_fittest_first(
    store: EvolutionStore, result: EvolutionResult
) -> None:
    store.save_run(result, started_at=T0, finished_at=T0, keep_best=3)

    best = store.best(5)

    assert [c.name for c in best] == [e.candidate_name for e in result.best(3)]
    assert [c.evaluation for c in best] == result.best(3)


def test_a_candidate_is_found_by_name_or_genome_id(
    store: EvolutionStore, result: EvolutionResult
) -> None:
    run = store.save_run(result, started_at=T0, finished_at=T0)
    top = result.best(1)[0]

    by_name = store.candidate(top.candidate_name)
    by_id = store.candidate(top.genome.id)

    assert by_name is not None and by_name == by_id
    assert by_name.run_id == run.run_id
    assert by_name.evaluation == top
    assert store.candidate("momentum_00000000") is None
    assert store.candidate("0" * 16) is None


def test_is_stored_candidate_answers_as_the_store_finds(
    store: EvolutionStore, result: EvolutionResult, client: redis.Redis, namespace: str
) -> None:
    store.save_run(result, started_at=T0, finished_at=T0)
    top = result.best(1)[0]

    for key in (top.candidate_name, top.genome.id, "momentum_00000000", "0" * 16, "nosuch"):
        found = is_stored_candidate(client, namespace, key)
        assert found == (store.candidate(key) is not None), key
    assert is_stored_candidate(client, namespace, top.genome.id)


def test_a_stored_candidate_resolves_to_its_strategy_and_params(
    store: EvolutionStore, result: EvolutionResult
) -> None:
    store.save_run(result, started_at=T0, finished_at=T0)
    top = result.best(1)[0]

    strategy = store.resolve_candidate(top.candidate_name)

    assert strategy is not None
    assert strategy == top.genome.build()
    assert strategy.params.model_dump() == top.genome.params


def test_the_engine_resolver_serves_builtins_and_candidates_and_nothing_else(
    store: EvolutionStore, result: EvolutionResult
) -> None:
    store.save_run(result, started_at=T0, finished_at=T0)
    name = result.best(1)[0].candidate_name

    assert store.resolve_strategy("momentum") == create_strategy("momentum")
    assert isinstance(store.resolve_strategy("momentum"), MomentumStrategy)
    assert store.resolve_strategy(name) is not None
    assert store.resolve_strategy("momentum_ffffffff") is None
    assert store.resolve_strategy("not a name") is None


def test_only_the_newest_runs_are_kept_and_their_candidates_stay(
    client: redis.Redis, namespace: str, result: EvolutionResult
) -> None:
    store = EvolutionStore(client, namespace=namespace, keep_runs=1)
    old = store.save_run(result, started_at=T0, finished_at=T0)
    new = store.save_run(result, started_at=T0 + timedelta(days=1), finished_at=T0)

    assert store.load_run(old.run_id) is None
    assert store.evaluations(old.run_id) == []
    assert store.load_run(new.run_id) is not None
    assert [r.run_id for r in store.runs()] == [new.run_id]
    assert store.candidate(new.best[0]) is not None


def test_every_key_lives_under_the_namespace(
    client: redis.Redis, namespace: str, store: EvolutionStore, result: EvolutionResult
) -> None:
    run = store.save_run(result, started_at=T0, finished_at=T0)

    keys = set(client.scan_iter(match=f"{namespace}:*"))

    assert keys == {
        f"{namespace}:evolution:runs",
        f"{namespace}:evolution:run:{run.run_id}",
        f"{namespace}:evolution:run:{run.run_id}:genomes",
        f"{namespace}:evolution:candidates",
        f"{namespace}:evolution:candidates:fitness",
        f"{namespace}:evolution:candidates:ids",
    }
