"""Runs, genomes and candidates of the Strategy Generator, in Redis.

    store = EvolutionStore(client, namespace="qt")          # or EvolutionStore.connect(settings)
    run = store.save_run(result, started_at=t0, finished_at=t1)
    store.load_run(run.run_id), store.evaluations(run.run_id)
    store.best(5), store.candidate("momentum_1f7d29b1")
    engine = TradingEngine(..., resolve_strategy=store.resolve_strategy)

Keys (under the namespace ``ns``)::

    ns:evolution:runs                     sorted set: run id -> start time (epoch seconds)
    ns:evolution:run:<run id>             JSON: config, seed, start/finish, data, generations
    ns:evolution:run:<run id>:genomes     hash: genome id -> JSON evaluation (params, lineage,
                                          fold metrics in and out of sample, fitness)
    ns:evolution:candidates               hash: candidate name -> JSON candidate (its run
                                          and evaluation): what the resolver builds from
    ns:evolution:candidates:fitness       sorted set: candidate name -> fitness
    ns:evolution:candidates:ids           hash: genome id -> candidate name

A run is written in one MULTI/EXEC, so a reader never sees half of one. Only the newest
``keep_runs`` runs keep their records; candidates are kept for good, since a policy may
still name them.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.errors import ConfigurationError, QuantumTraderError
from components.evolution.config import GeneticConfig
from components.evolution.fitness import Evaluation
from components.evolution.generator import DataSummary, EvolutionResult, GenerationResult
from components.evolution.genome import CANDIDATE_NAME_PATTERN, Genome
from components.evolution.keys import GENOME_ID, candidate_ids_key, candidates_key
from components.redis import connect, namespaced
from components.settings import Settings
from components.strategies.base import Strategy
from components.strategies.registry import STRATEGIES

log = logging.getLogger(__name__)


class Candidate(BaseModel):
    """A genome kept as a candidate for the policy: its name, the run that found it, and
    its evidence.

    Example: ``candidate.name``, ``candidate.evaluation.out_of_sample``, ``candidate.build()``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    name: str = Field(pattern=CANDIDATE_NAME_PATTERN)
    run_id: str
    evaluation: Evaluation

    @property
    def genome(self) -> Genome:
        return self.evaluation.genome

    @property
    def fitness(self) -> float:
        return self.evaluation.fitness

    def build(self) -> Strategy[Any]:
        """The strategy to trade (see :meth:`Genome.build`)."""
        return self.genome.build()


class EvolutionRun(BaseModel):
    """The record of one run: what it searched with and on, each generation, and the
    names of the candidates it kept, fittest first.

    Example: ``store.load_run(run_id).generations[-1].best_fitness``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    run_id: str
    config: GeneticConfig
    seed: int
    started_at: AwareDatetime
    finished_at: AwareDatetime
    data: DataSummary
    generations: tuple[GenerationResult, ...]
    evaluated: int = Field(ge=0, description="Distinct genomes scored.")
    best: tuple[str, ...] = Field(description="Candidate names kept, fittest first.")


class EvolutionStore:
    """The generator's results in Redis; see the module docstring for the keys.

    Parameters
    ----------
    client
        A Redis client (``components.redis.connect``).
    namespace
        Prefix of every key.
    keep_runs
        Runs whose records (and genomes) are kept; older ones are deleted on save.

    Example: ``EvolutionStore(client, namespace="qt").best(3)``.
    """

    def __init__(self, client: redis.Redis, *, namespace: str, keep_runs: int = 30) -> None:
        if keep_runs < 1:
            raise ConfigurationError(f"keep_runs={keep_runs} must be at least 1")
        self._r: Any = client
        self.namespace = namespace
        self.keep_runs = keep_runs
        self._runs = namespaced(namespace, "evolution", "runs")
        self._candidates = candidates_key(namespace)
        self._fitness = namespaced(namespace, "evolution", "candidates", "fitness")
        self._ids = candidate_ids_key(namespace)

    @classmethod
    def connect(cls, settings: Settings, **options: Any) -> EvolutionStore:
        """A store on the configured Redis, in ``QT_NAMESPACE``."""
        return cls(connect(settings), namespace=settings.namespace, **options)

    # --- writing --------------------------------------------------------------------------

    def save_run(
        self,
        result: EvolutionResult,
        *,
        started_at: datetime,
        finished_at: datetime,
        keep_best: int = 10,
    ) -> EvolutionRun:
        """Record ``result``: the run, every genome it scored, and its ``keep_best``
        fittest genomes that passed the gates as candidates; all in one transaction.

        The run id is ``<start, UTC>_<seed>_<hash of config and data>``, so saving the
        same run twice writes the same keys.

        Raises
        ------
        ConfigurationError
            A time is naive, or ``keep_best`` is negative.

        Example: ``store.save_run(result, started_at=t0, finished_at=clock.now())``.
        """
        if started_at.tzinfo is None or finished_at.tzinfo is None:
            raise ConfigurationError("started_at and finished_at must be timezone-aware")
        if keep_best < 0:
            raise ConfigurationError(f"keep_best={keep_best} must be 0 or more")
        started = started_at.astimezone(UTC)
        digest = hashlib.sha256(
            (result.config.model_dump_json() + result.data.model_dump_json()).encode()
        ).hexdigest()[:8]
        run_id = f"{started:%Y%m%dT%H%M%SZ}_{result.config.seed}_{digest}"
        best = result.best(keep_best)
        candidates = [Candidate(name=e.candidate_name, run_id=run_id, evaluation=e) for e in best]
        run = EvolutionRun(
            run_id=run_id,
            config=result.config,
            seed=result.config.seed,
            started_at=started,
            finished_at=finished_at.astimezone(UTC),
            data=result.data,
            generations=result.generations,
            evaluated=len(result.evaluations),
            best=tuple(c.name for c in candidates),
        )
        genomes = {e.genome.id: e.model_dump_json() for e in result.evaluations}
        pipe = self._r.pipeline(transaction=True)
        pipe.set(self._run_key(run_id), run.model_dump_json())
        pipe.delete(self._genomes_key(run_id))
        if genomes:
            pipe.hset(self._genomes_key(run_id), mapping=genomes)
        if candidates:
            pipe.hset(self._candidates, mapping={c.name: c.model_dump_json() for c in candidates})
            pipe.zadd(self._fitness, {c.name: c.fitness for c in candidates})
            pipe.hset(self._ids, mapping={c.genome.id: c.name for c in candidates})
        pipe.zadd(self._runs, {run_id: started.timestamp()})
        pipe.execute()
        self._trim()
        return run

    # --- reading --------------------------------------------------------------------------

    def load_run(self, run_id: str) -> EvolutionRun | None:
        """The record of run ``run_id``, or ``None`` when there is none (or it was trimmed)."""
        raw = self._r.get(self._run_key(run_id))
        return None if raw is None else EvolutionRun.model_validate_json(raw)

    def runs(self, limit: int = 10) -> list[EvolutionRun]:
        """The newest ``limit`` runs, newest first."""
        ids = [_text(i) for i in self._r.zrevrange(self._runs, 0, max(limit, 1) - 1)]
        runs = (self.load_run(run_id) for run_id in ids)
        return [run for run in runs if run is not None]

    def evaluations(self, run_id: str) -> list[Evaluation]:
        """Every genome run ``run_id`` scored, by generation, then fitness (fittest first)."""
        raw = self._r.hvals(self._genomes_key(run_id))
        evaluations = [Evaluation.model_validate_json(value) for value in raw]
        return sorted(
            evaluations, key=lambda e: (e.generation or 0, -_finite(e.fitness), e.genome.id)
        )

    def evaluation(self, run_id: str, genome_id: str) -> Evaluation | None:
        """One genome of run ``run_id``, or ``None``."""
        raw = self._r.hget(self._genomes_key(run_id), genome_id)
        return None if raw is None else Evaluation.model_validate_json(raw)

    def best(self, n: int = 5) -> list[Candidate]:
        """The ``n`` fittest candidates of every run, fittest first (ties by genome id, as
        :meth:`EvolutionResult.best <components.evolution.EvolutionResult.best>`)."""
        if n <= 0:
            return []
        top = self._r.zrevrange(self._fitness, 0, n - 1, withscores=True)
        if not top:
            return []
        names = {_text(name) for name, _ in top}
        if len(top) == n:  # the candidates tied with the last place compete for it by id
            last = top[-1][1]
            names |= {_text(name) for name in self._r.zrangebyscore(self._fitness, last, last)}
        raw = self._r.hmget(self._candidates, sorted(names))
        found = [Candidate.model_validate_json(value) for value in raw if value is not None]
        return sorted(found, key=lambda c: (-c.fitness, c.genome.id))[:n]

    def candidate(self, key: str) -> Candidate | None:
        """The candidate with this name (``momentum_1f7d29b1``) or genome id (16 hex
        digits), or ``None``."""
        name = key
        if GENOME_ID.match(key):
            found = self._r.hget(self._ids, key)
            if found is None:
                return None
            name = _text(found)
        raw = self._r.hget(self._candidates, name)
        return None if raw is None else Candidate.model_validate_json(raw)

    def resolve_candidate(self, name: str) -> Strategy[Any] | None:
        """The strategy of the stored candidate ``name``, or ``None`` when there is no such
        candidate or it can no longer be built (its strategy is gone; logged).

        Example: ``store.resolve_candidate("momentum_1f7d29b1").signals(bars)``.
        """
        candidate = self.candidate(name) if re.match(CANDIDATE_NAME_PATTERN, name) else None
        if candidate is None:
            return None
        try:
            return candidate.build()
        except QuantumTraderError as exc:
            log.warning("candidate %r cannot be built: %s", name, exc)
            return None

    def resolve_strategy(self, name: str) -> Strategy[Any] | None:
        """A built-in strategy by its name (with its default params), else the stored
        candidate of that name, else ``None``: the engine's ``resolve_strategy``, so shadow
        and promoted candidates trade under their own names.

        Example: ``TradingEngine(..., resolve_strategy=store.resolve_strategy)``.
        """
        cls = STRATEGIES.get(name)
        if cls is not None:
            try:
                return cls()
            except QuantumTraderError as exc:
                log.warning("strategy %r cannot be built with its defaults: %s", name, exc)
        return self.resolve_candidate(name)

    # --- helpers --------------------------------------------------------------------------

    def _run_key(self, run_id: str) -> str:
        return namespaced(self.namespace, "evolution", "run", run_id)

    def _genomes_key(self, run_id: str) -> str:
        return namespaced(self.namespace, "evolution", "run", run_id, "genomes")

    def _trim(self) -> None:
        """Delete the records of runs older than the newest ``keep_runs``."""
        old = [_text(i) for i in self._r.zrange(self._runs, 0, -(self.keep_runs + 1))]
        if not old:
            return
        pipe = self._r.pipeline(transaction=True)
        for run_id in old:
            pipe.delete(self._run_key(run_id), self._genomes_key(run_id))
        pipe.zrem(self._runs, *old)
        pipe.execute()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -1e300
