"""The Strategy Generator: genetic search over strategy params, scored walk-forward, then
shadow trading and promotion on evidence.

    result = StrategyGenerator(GeneticConfig(seed=7)).run(bars, progress=show, map_fn=pool.map)
    run = EvolutionStore(client, namespace="qt").save_run(result, started_at=t0, finished_at=t1)
    entry = enter_shadow(result.best(5), policy, PromotionConfig(), run_id=run.run_id)
    transitions = review(policy.strategy_states, records, now)
    patch = policy_patch([*entry.transitions, *transitions], policy)

- :mod:`~components.evolution.genome`: a genome (strategy + params within bounds, a content
  id, its parents) and the seeded operators: sampling, crossover, mutation.
- :mod:`~components.evolution.fitness`: walk-forward fitness from out-of-sample folds only,
  behind the lookahead and recursion gates.
- :mod:`~components.evolution.generator`: the generational loop, parallel through any
  ``map``.
- :mod:`~components.evolution.store`: runs, genomes and candidates in Redis, and the
  resolver that lets the engine trade a candidate by its name.
- :mod:`~components.evolution.promotion`: pure shadow / live / retired decisions.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.evolution.config import DEFAULT_STRATEGIES, UNSEARCHABLE, GeneticConfig
    from components.evolution.fitness import (
        BarArrays,
        Evaluation,
        FoldScore,
        FoldSummary,
        FoldWindow,
        evaluate_walk_forward,
        fold_score,
        fold_windows,
        gate,
        score_windows,
    )
    from components.evolution.generator import (
        DataSummary,
        EvaluationBatch,
        EvolutionResult,
        GenerationResult,
        StrategyGenerator,
        evaluate_batch,
    )
    from components.evolution.genome import (
        CANDIDATE_NAME_PATTERN,
        Genome,
        crossover,
        mutate,
        sample_genome,
    )
    from components.evolution.promotion import (
        PromotionConfig,
        ShadowEntry,
        ShadowRecord,
        Transition,
        enter_shadow,
        policy_patch,
        review,
    )
    from components.evolution.store import Candidate, EvolutionRun, EvolutionStore


__all__ = [
    "CANDIDATE_NAME_PATTERN",
    "DEFAULT_STRATEGIES",
    "UNSEARCHABLE",
    "BarArrays",
    "Candidate",
    "DataSummary",
    "Evaluation",
    "EvaluationBatch",
    "EvolutionResult",
    "EvolutionRun",
    "EvolutionStore",
    "FoldScore",
    "FoldSummary",
    "FoldWindow",
    "GenerationResult",
    "GeneticConfig",
    "Genome",
    "PromotionConfig",
    "ShadowEntry",
    "ShadowRecord",
    "StrategyGenerator",
    "Transition",
    "crossover",
    "enter_shadow",
    "evaluate_batch",
    "evaluate_walk_forward",
    "fold_score",
    "fold_windows",
    "gate",
    "mutate",
    "policy_patch",
    "review",
    "sample_genome",
    "score_windows",
]

__getattr__ = lazy_exports(
    __name__, ("config", "fitness", "generator", "genome", "promotion", "store")
)
