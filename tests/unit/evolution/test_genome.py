"""Genomes and the genetic operators: ids from content, params always within bounds,
invalid combinations repaired, every draw from the generator passed in."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.errors import ConfigurationError
from components.evolution import DEFAULT_STRATEGIES, Genome, crossover, mutate, sample_genome
from components.regime.config import STRATEGY_NAME_PATTERN
from components.strategies import STRATEGIES
from tests.unit.evolution.builders import SlowStart

seeds = st.integers(min_value=0, max_value=2**32 - 1)
names = st.sampled_from(DEFAULT_STRATEGIES)


def test_the_id_hashes_strategy_and_params_but_not_parents_or_param_order() -> None:
    a = Genome(strategy="momentum", params={"lookback": 20, "threshold": 0.02})
    b = Genome(strategy="momentum", params={"threshold": 0.02, "lookback": 20}, parents=("x",))
    c = Genome(strategy="momentum", params={"lookback": 21, "threshold": 0.02})

    assert a.id == b.id
    assert a.id != c.id
    assert re.fullmatch(r"[0-9a-f]{16}", a.id)


def test_the_candidate_name_is_a_valid_policy_strategy_name() -> None:
    genome = Genome.create("sma_crossover", {"fast": 5, "slow": 30})

    assert genome.candidate_name == f"sma_crossover_{genome.id[:8]}"
    assert re.match(STRATEGY_NAME_PATTERN, genome.candidate_name)


def test_create_fills_the_defaults_and_rounds_floats_to_four_significant_digits() -> None:
    genome = Genome.create("mean_reversion", {"entry_z": 2.123456, "lookback": 30})

    assert genome.params == {
        "lookback": 30,
        "entry_z": 2.123,
        "exit_z": 0.0,
        "long_only": False,
    }


@pytest.mark.parametrize(
    ("strategy", "params", "needle"),
    [
        ("momentum", {"lookback": 1}, "lookback=1"),
        ("sma_crossover", {"fast": 30, "slow": 20}, "fast=30 must be below slow=20"),
        ("no_such_strategy", {}, "unknown strategy 'no_such_strategy'"),
    ],
)
def test_create_with_invalid_params_raises_a_configuration_error_naming_them(
    strategy: str, params: dict[str, int], needle: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(needle)):
        Genome.create(strategy, params)


def test_a_genome_round_trips_through_json_and_a_wrong_id_is_refused() -> None:
    genome = Genome.create("breakout", {"lookback": 55}, parents=("a" * 16,))
    text = genome.model_dump_json()

    assert Genome.model_validate_json(text) == genome
    with pytest.raises(ValidationError, match="does not match its content"):
        Genome.model_validate_json(text.replace(genome.id, "0" * 16))


def test_the_same_seed_draws_the_same_genomes() -> None:
    first = [sample_genome(n, np.random.default_rng(5)) for n in DEFAULT_STRATEGIES]
    second = [sample_genome(n, np.random.default_rng(5)) for n in DEFAULT_STRATEGIES]

    assert first == second


@settings(max_examples=60, deadline=None)
@given(seed=seeds, name=names, max_warmup=st.sampled_from([None, 60, 300]))
def test_sampled_genomes_are_valid_and_within_bounds(
    seed: int, name: str, max_warmup: int | None
) -> None:
    genome = sample_genome(name, np.random.default_rng(seed), max_warmup=max_warmup)

    assert genome.within_bounds()
    assert genome.parents == ()
    strategy = genome.build()  # the strategy accepts the combination (fast < slow)
    assert max_warmup is None or strategy.warmup <= max_warmup


@settings(max_examples=60, deadline=None)
@given(
    seed=seeds,
    name=names,
    rate=st.floats(0.0, 1.0),
    scale=st.floats(0.01, 1.0),
    max_warmup=st.sampled_from([None, 100, 300]),
)
def test_crossover_and_mutation_keep_params_valid_and_within_bounds(
    seed: int, name: str, rate: float, scale: float, max_warmup: int | None
) -> None:
    rng = np.random.default_rng(seed)
    a = sample_genome(name, rng, max_warmup=max_warmup)
    b = sample_genome(name, rng, max_warmup=max_warmup)

    child = mutate(
        crossover(a, b, rng, max_warmup=max_warmup),
        rng,
        rate=rate,
        scale=scale,
        max_warmup=max_warmup,
    )

    assert child.within_bounds()
    strategy = child.build()
    assert max_warmup is None or strategy.warmup <= max_warmup
    assert set(child.parents) <= {a.id, b.id}


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_crossover_takes_each_param_from_a_parent_and_repairs_fast_above_slow(seed: int) -> None:
    a = Genome.create("sma_crossover", {"fast": 150, "slow": 160, "long_only": True})
    b = Genome.create("sma_crossover", {"fast": 5, "slow": 10, "long_only": False})

    child = crossover(a, b, np.random.default_rng(seed))

    assert child.params["fast"] < child.params["slow"]  # never fast=150 with slow=10
    for name, value in child.params.items():
        assert value in (a.params[name], b.params[name])
    assert child.parents in ((a.id, b.id), (a.id,))


def test_crossover_of_two_strategies_is_a_clone_of_the_first_parent() -> None:
    a = Genome.create("momentum", {"lookback": 30})
    b = Genome.create("breakout", {"lookback": 30})

    child = crossover(a, b, np.random.default_rng(0))

    assert child.params == a.params
    assert child.strategy == "momentum"
    assert child.parents == (a.id,)


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_a_mutation_that_would_put_fast_above_slow_is_redrawn(seed: int) -> None:
    genome = Genome.create("sma_crossover", {"fast": 99, "slow": 100}, parents=("p" * 16,))

    child = mutate(genome, np.random.default_rng(seed), rate=1.0, scale=0.5)

    assert child.params["fast"] < child.params["slow"]
    assert child.within_bounds()
    assert child.parents == genome.parents


def test_a_full_rate_mutation_moves_every_param() -> None:
    genome = Genome.create("momentum", {"lookback": 100, "threshold": 0.1, "long_only": False})

    child = mutate(genome, np.random.default_rng(1), rate=1.0, scale=1e-6)

    assert child.params["lookback"] in (99, 101)  # the smallest step of an int is one
    assert child.params["long_only"] is True
    assert child.params["threshold"] == pytest.approx(0.1, abs=1e-3)


def test_a_zero_rate_mutation_changes_nothing() -> None:
    genome = Genome.create("breakout")

    assert mutate(genome, np.random.default_rng(3), rate=0.0, scale=0.5) == genome


def test_a_strategy_with_no_params_within_max_warmup_cannot_be_sampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(STRATEGIES, SlowStart.name, SlowStart)

    with pytest.raises(ConfigurationError, match="slow_start: no valid params"):
        sample_genome("slow_start", np.random.default_rng(0), max_warmup=300)
