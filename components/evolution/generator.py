"""The Strategy Generator: a seeded genetic search over strategy params.

    generator = StrategyGenerator(GeneticConfig(population=64, generations=20, seed=7))
    result = generator.run(bars_by_symbol, progress=print, map_fn=pool.map)
    result.best(5), result.fitness_history, result.generations[-1]

One run
-------
1. The first generation is drawn uniformly within each strategy's bounds, the strategies
   taking turns (:func:`~components.evolution.genome.sample_genome`).
2. Every genome not scored before is evaluated (walk-forward, behind the lookahead and
   recursion gates: :mod:`components.evolution.fitness`). Genomes are identified by a hash
   of (strategy, params), so a genome bred again, an elite carried over, or a clone is
   never scored twice: that cache is also the per-(strategy, params) cache of the gates.
3. The next generation keeps the ``elitism`` fittest unchanged and breeds the rest: two
   parents by tournament, uniform crossover with chance ``crossover_rate`` when they share a
   strategy (otherwise a clone of the first), then mutation.
4. After the last generation, :meth:`EvolutionResult.best` ranks every genome that passed
   the gates by fitness.

Every draw comes from one ``numpy.random.Generator`` seeded with ``config.seed``, in a
fixed order, and evaluation is a pure function, so a run repeats exactly, wherever the
evaluations ran.

Parallel evaluation
-------------------
The generator never starts processes. It hands ``map_fn(evaluate_batch, batches)`` the
genomes to score, in batches of about ``batch_size``: ``map_fn`` is the builtin ``map``
(serial), ``ProcessPoolExecutor.map``, or a Prefect task runner's map in the flow (process
pool, or Dask with the ``dask`` extra). ``evaluate_batch`` is a module-level function and
a batch pickles (the genomes, the bars as numpy arrays, the config and the evaluator), so
any of them can ship it. Each batch carries the bars once: 3.5 MB for 10 symbols x 8,760
bars, about 8 ms to pickle and send, against about 30 ms to score one genome; one task per
genome would spend a fifth of the time shipping bars (and, under Prefect, pay its 10-25 ms
per task run 64 times a generation), a batch of 8 a fortieth.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.errors import DataError
from components.evolution.config import GeneticConfig
from components.evolution.fitness import (
    BarArrays,
    Evaluation,
    FoldWindow,
    evaluate_walk_forward,
    fold_windows,
)
from components.evolution.genome import Genome, crossover, mutate, sample_genome

Evaluator = Callable[[Genome, BarArrays, GeneticConfig], Evaluation]
"""Scores one genome; a module-level function, so that it pickles."""


class MapFn(Protocol):
    """``map`` and anything shaped like it: ``map_fn(function, items)`` -> results in order."""

    def __call__(
        self, fn: Callable[[EvaluationBatch], list[Evaluation]], items: Iterable[EvaluationBatch], /
    ) -> Iterable[list[Evaluation]]: ...


@dataclass(frozen=True, slots=True, eq=False)
class EvaluationBatch:
    """Genomes to score on the same bars: the unit of parallel work."""

    genomes: tuple[Genome, ...]
    data: BarArrays
    config: GeneticConfig
    evaluator: Evaluator = evaluate_walk_forward


def evaluate_batch(batch: EvaluationBatch) -> list[Evaluation]:
    """Every genome of ``batch`` scored by its evaluator, in order; what ``map_fn`` runs.

    Example: ``list(pool.map(evaluate_batch, batches))``.
    """
    return [batch.evaluator(genome, batch.data, batch.config) for genome in batch.genomes]


class DataSummary(BaseModel):
    """The history a run searched on, and its walk-forward windows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: tuple[str, ...]
    timeframe: str
    bars: int = Field(ge=0)
    start: datetime
    end: datetime
    windows: tuple[FoldWindow, ...]


class GenerationResult(BaseModel):
    """One generation: its fittest genome, how it was scored, and who was in it.

    ``evaluated`` counts genomes scored for the first time, ``reused`` those already
    scored (elites, clones, repeats); ``rejected`` the members a gate refused.
    ``mean_fitness`` is over the members with a finite fitness (``None`` when none had).

    Example: ``f"{g.generation + 1}/{g.generations}: best {g.best_fitness:.2f}"``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    generation: int = Field(ge=0)
    generations: int = Field(ge=1)
    best_fitness: float
    best_genome: str
    mean_fitness: float | None
    evaluated: int = Field(ge=0)
    reused: int = Field(ge=0)
    rejected: int = Field(ge=0)
    population: tuple[str, ...] = Field(description="Genome ids, in breeding order.")


class EvolutionResult(BaseModel):
    """A whole run: the config, the data, each generation, and every genome scored.

    Example: ``result.best(3)[0].out_of_sample``, ``result.fitness_history``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    config: GeneticConfig
    data: DataSummary
    generations: tuple[GenerationResult, ...]
    evaluations: tuple[Evaluation, ...] = Field(
        description="Every distinct genome, in the order it was first scored."
    )

    @property
    def gate_seconds_per_candidate(self) -> float:
        """What the lookahead and recursion gates cost per genome scored, on average."""
        if not self.evaluations:
            return 0.0
        return sum(e.gate_seconds for e in self.evaluations) / len(self.evaluations)

    @property
    def fitness_history(self) -> tuple[float, ...]:
        """The best fitness of each generation."""
        return tuple(g.best_fitness for g in self.generations)

    def best(self, n: int = 5) -> list[Evaluation]:
        """The ``n`` fittest genomes that passed the gates, fittest first (ties by id).

        Example: ``[e.candidate_name for e in result.best(3)]``.
        """
        passed = [e for e in self.evaluations if e.passed and math.isfinite(e.fitness)]
        return sorted(passed, key=lambda e: (-e.fitness, e.genome.id))[: max(n, 0)]

    def evaluation(self, genome_id: str) -> Evaluation:
        """The evaluation of the genome with this id.

        Raises
        ------
        KeyError
            No genome of this run has that id.
        """
        for evaluation in self.evaluations:
            if evaluation.genome.id == genome_id:
                return evaluation
        raise KeyError(f"no genome {genome_id!r} in this run")


class StrategyGenerator:
    """Breeds strategy params by a seeded genetic search; see the module docstring.

    Parameters
    ----------
    config
        The search, the fitness and the gates; defaults to ``GeneticConfig()``.
    evaluator
        Scores one genome on the bars: a module-level function of ``(genome, data,
        config)`` (it must pickle to run in other processes). The default is the
        walk-forward fitness.

    Example: ``StrategyGenerator(GeneticConfig(seed=7)).run(bars, map_fn=pool.map).best(5)``.
    """

    def __init__(
        self, config: GeneticConfig | None = None, evaluator: Evaluator = evaluate_walk_forward
    ) -> None:
        self.config = config or GeneticConfig()
        self.evaluator = evaluator

    def run(
        self,
        bars: Mapping[str, pd.DataFrame] | BarArrays,
        *,
        progress: Callable[[GenerationResult], Any] | None = None,
        map_fn: MapFn | Callable[..., Iterable[Any]] = map,
    ) -> EvolutionResult:
        """Search, generation by generation, and return every genome with its evidence.

        Parameters
        ----------
        bars
            Each symbol's bars (one shared time index), or :class:`BarArrays` built
            from them.
        progress
            Called with each :class:`GenerationResult` as soon as it is scored.
        map_fn
            How batches of genomes are evaluated (module docstring); ``map`` by default.

        Raises
        ------
        DataError
            The bars break the contract, the symbols do not share a time index, or the
            history is too short for the folds or the engine's history check.
        ConfigurationError
            A strategy has no valid params within ``engine_history_bars``.

        Example: ``generator.run(bars, progress=lambda g: print(g.best_fitness))``.
        """
        config = self.config
        data = bars if isinstance(bars, BarArrays) else BarArrays.from_frames(bars)
        windows = fold_windows(data.index, config.folds)
        history = config.engine_history_bars
        if history is not None and data.bars <= history:
            raise DataError(
                f"{data.bars} bars are too few to compare signals from the engine's "
                f"{history} bars with the full history; give more bars or set "
                "engine_history_bars=None"
            )
        rng = np.random.default_rng(config.seed)
        population = [
            sample_genome(config.strategies[i % len(config.strategies)], rng, max_warmup=history)
            for i in range(config.population)
        ]
        scored: dict[str, Evaluation] = {}
        generations: list[GenerationResult] = []
        for g in range(config.generations):
            fresh = self._evaluate(population, data, scored, g, map_fn)
            fitness = np.array([scored[genome.id].fitness for genome in population])
            result = _generation(g, config.generations, population, fitness, fresh)
            generations.append(result)
            if progress is not None:
                progress(result)
            if g + 1 < config.generations:
                population = self._breed(population, fitness, rng)
        return EvolutionResult(
            config=config,
            data=DataSummary(
                symbols=data.symbols,
                timeframe=data.timeframe,
                bars=data.bars,
                start=data.index[0].to_pydatetime(),
                end=data.index[-1].to_pydatetime(),
                windows=windows,
            ),
            generations=tuple(generations),
            evaluations=tuple(scored.values()),
        )

    # --- steps ----------------------------------------------------------------------------

    def _evaluate(
        self,
        population: list[Genome],
        data: BarArrays,
        scored: dict[str, Evaluation],
        generation: int,
        map_fn: Callable[..., Iterable[Any]],
    ) -> int:
        """Score the genomes not scored before (each once); returns how many there were."""
        fresh: dict[str, Genome] = {}
        for genome in population:
            if genome.id not in scored and genome.id not in fresh:
                fresh[genome.id] = genome
        if not fresh:
            return 0
        genomes = list(fresh.values())
        count = math.ceil(len(genomes) / self.config.batch_size)
        cuts = np.linspace(0, len(genomes), count + 1).round().astype(int)
        batches = [
            EvaluationBatch(tuple(genomes[a:b]), data, self.config, self.evaluator)
            for a, b in itertools.pairwise(cuts)
        ]
        for batch, evaluations in zip(batches, map_fn(evaluate_batch, batches), strict=True):
            for genome, evaluation in zip(batch.genomes, evaluations, strict=True):
                if evaluation.genome.id != genome.id:
                    raise DataError(
                        f"the evaluator returned genome {evaluation.genome.id} for "
                        f"{genome.id}; map_fn must keep the order of its items"
                    )
                # the genome as bred (with its parents), stamped with its generation
                scored[genome.id] = evaluation.model_copy(
                    update={"genome": genome, "generation": generation}
                )
        return len(genomes)

    def _breed(
        self, population: list[Genome], fitness: np.ndarray, rng: np.random.Generator
    ) -> list[Genome]:
        """The next generation: the elites, then children of tournament winners."""
        config = self.config
        order = sorted(range(len(population)), key=lambda i: (-fitness[i], population[i].id))
        elites: list[Genome] = []
        for i in order:
            if len(elites) == config.elitism:
                break
            if all(population[i].id != e.id for e in elites):
                elites.append(population[i])
        children = list(elites)
        history = config.engine_history_bars
        while len(children) < config.population:
            a = population[_tournament(fitness, config.tournament_size, rng)]
            b = population[_tournament(fitness, config.tournament_size, rng)]
            if rng.random() < config.crossover_rate:
                child = crossover(a, b, rng, max_warmup=history)
            else:
                child = Genome(strategy=a.strategy, params=a.params, parents=(a.id,))
            children.append(
                mutate(
                    child,
                    rng,
                    rate=config.mutation_rate,
                    scale=config.mutation_scale,
                    max_warmup=history,
                )
            )
        return children


def _tournament(fitness: np.ndarray, size: int, rng: np.random.Generator) -> int:
    """The index of the fittest of ``size`` members drawn without replacement (the first
    drawn wins a tie)."""
    drawn = rng.choice(fitness.size, size=min(size, fitness.size), replace=False)
    return int(drawn[int(np.argmax(fitness[drawn]))])


def _generation(
    g: int, total: int, population: list[Genome], fitness: np.ndarray, fresh: int
) -> GenerationResult:
    finite = fitness[np.isfinite(fitness)]
    best = int(np.argmax(fitness))
    return GenerationResult(
        generation=g,
        generations=total,
        best_fitness=float(fitness[best]),
        best_genome=population[best].id,
        mean_fitness=float(finite.mean()) if finite.size else None,
        evaluated=fresh,
        reused=len(population) - fresh,
        rejected=int(np.isneginf(fitness).sum()),
        population=tuple(genome.id for genome in population),
    )
