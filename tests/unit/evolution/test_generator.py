"""The Strategy Generator: a seeded search that repeats exactly, keeps every genome valid,
scores each genome once, and runs the same through any map."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from components.errors import DataError
from components.evolution import (
    BarArrays,
    EvolutionResult,
    GenerationResult,
    StrategyGenerator,
)
from components.strategies import STRATEGIES
from tests.unit.evolution.builders import PeekAhead, small_config, synthetic_bars


@pytest.fixture(scope="module")
def data() -> BarArrays:
    return BarArrays.from_frames(synthetic_bars())


@pytest.fixture(scope="module")
def result(data: BarArrays) -> EvolutionResult:
    return StrategyGenerator(small_config()).run(data)


def test_a_seeded_run_repeats_exactly(data: BarArrays, result: EvolutionResult) -> None:
    again = StrategyGenerator(small_config()).run(data)

    assert again.best(1)[0].genome == result.best(1)[0].genome
    assert again.fitness_history == result.fitness_history
    assert again == result


def test_different_seeds_search_differently(data: BarArrays, result: EvolutionResult) -> None:
    other = StrategyGenerator(small_config(seed=12)).run(data)

    assert other.generations[0].population != result.generations[0].population
    assert {e.genome.id for e in other.evaluations} != {e.genome.id for e in result.evaluations}


def test_a_process_pool_gives_the_same_result_as_builtin_map(
    data: BarArrays, result: EvolutionResult
) -> None:
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = StrategyGenerator(small_config()).run(data, map_fn=pool.map)

    assert parallel == result


def test_every_genome_stays_within_bounds_and_the_engines_history(
    result: EvolutionResult,
) -> None:
    for evaluation in result.evaluations:
        genome = evaluation.genome
        assert genome.strategy in result.config.strategies
        assert genome.within_bounds()
        assert genome.build().warmup <= 200


def test_each_genome_is_scored_once_and_stamped_with_its_first_generation(
    result: EvolutionResult,
) -> None:
    ids = [e.genome.id for e in result.evaluations]

    assert len(ids) == len(set(ids))
    assert sum(g.evaluated for g in result.generations) == len(ids)
    for g in result.generations:
        assert g.evaluated + g.reused == result.config.population
        first_seen = {e.genome.id for e in result.evaluations if e.generation == g.generation}
        assert len(first_seen) == g.evaluated


def test_the_best_fitness_never_falls_with_elitism(result: EvolutionResult) -> None:
    history = result.fitness_history

    assert len(history) == result.config.generations
    assert all(b >= a for a, b in itertools.pairwise(history))
    assert history[-1] == result.best(1)[0].fitness


def test_children_descend_from_the_generation_before(result: EvolutionResult) -> None:
    for before, after in zip(result.generations, result.generations[1:], strict=False):
        for genome_id in set(after.population) - set(before.population):
            genome = result.evaluation(genome_id).genome
            assert genome.parents, genome_id
            assert set(genome.parents) <= set(before.population)


def test_best_ranks_the_genomes_that_passed_by_out_of_sample_fitness(
    result: EvolutionResult,
) -> None:
    best = result.best(4)

    assert [e.fitness for e in best] == sorted((e.fitness for e in best), reverse=True)
    assert all(e.passed and math.isfinite(e.fitness) for e in best)
    assert all(len(e.out_of_sample) == result.config.folds - 1 for e in best)
    assert [w.fold for w in result.data.windows] == [0, 1, 2]


def test_progress_reports_each_generation_as_it_ends(data: BarArrays) -> None:
    seen: list[GenerationResult] = []

    result = StrategyGenerator(small_config(generations=2)).run(data, progress=seen.append)

    assert [g.generation for g in seen] == [0, 1]
    assert tuple(seen) == result.generations
    assert seen[0].generations == 2


def test_a_peeking_strategy_in_the_search_never_counts(
    data: BarArrays, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STRATEGIES, PeekAhead.name, PeekAhead)
    config = small_config(strategies=("peek_ahead", "momentum"), generations=2)

    result = StrategyGenerator(config).run(data)

    peeking = [e for e in result.evaluations if e.genome.strategy == "peek_ahead"]
    assert peeking
    for evaluation in peeking:
        assert evaluation.fitness == -math.inf
        assert evaluation.rejected is not None and "looks ahead" in evaluation.rejected
    assert all(e.genome.strategy == "momentum" for e in result.best(10))
    assert result.generations[0].rejected == len(
        [g for g in result.generations[0].population if result.evaluation(g).rejected]
    )


def test_a_history_no_longer_than_the_engines_is_refused() -> None:
    data = BarArrays.from_frames(synthetic_bars(2, 200))

    with pytest.raises(DataError, match="engine_history_bars=None"):
        StrategyGenerator(small_config()).run(data)


def test_a_map_that_drops_the_order_is_caught(data: BarArrays) -> None:
    def shuffled(fn, items):  # type: ignore[no-untyped-def]
        return [fn(item) for item in reversed(list(items))]

    with pytest.raises(DataError, match="keep the order"):
        StrategyGenerator(small_config(generations=1)).run(data, map_fn=shuffled)


def test_frames_and_arrays_give_the_same_run(data: BarArrays) -> None:
    config = small_config(generations=1)

    from_frames = StrategyGenerator(config).run(synthetic_bars())
    from_arrays = StrategyGenerator(config).run(data)

    assert from_frames == from_arrays
    assert np.isfinite(from_frames.fitness_history).all()


def test_the_lookahead_gate_reports_its_cost_per_candidate(result: EvolutionResult) -> None:
    assert all(e.gate_seconds > 0 for e in result.evaluations)
    assert result.gate_seconds_per_candidate == pytest.approx(
        sum(e.gate_seconds for e in result.evaluations) / len(result.evaluations)
    )
