"""strategy-generation (daily): breed strategy parameter sets with a seeded genetic
search scored on walk-forward out-of-sample folds, put the best into shadow, and promote
or retire shadow and live strategies on the evidence of their paper records.

The population's fitness fans out on the flow's task runner: a Dask cluster when
``QT_DASK_ADDRESS`` names its scheduler, the local process pool otherwise; the same seed
gives the same result on either."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from components.events import Event
from components.events.types import STRATEGY_PROMOTED
from components.evolution import (
    GenerationResult,
    GeneticConfig,
    StrategyGenerator,
    enter_shadow,
    review,
)
from components.evolution import policy_patch as promotion_patch
from components.evolution.results import CandidateRow, GenerationReport
from components.settings import ModuleMode, load_settings
from tasks.artifacts import publish_markdown
from tasks.charts import publish_equity_chart
from tasks.events import publish_event
from tasks.evolution import (
    backtest_candidate,
    fetch_search_bars,
    notify_progress,
    prefect_map,
    read_shadow_records,
    record_state_changes,
    save_evolution_run,
)
from tasks.market import read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy, read_policy
from tasks.research import research_task_runner

NAME = "strategy-generation"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
    task_runner=research_task_runner(),  # Dask at QT_DASK_ADDRESS, else local processes
)
def strategy_generation(
    population: int | None = None, generations: int | None = None, seed: int | None = None
) -> GenerationReport:
    """One search, then the shadow entry and the promotion review."""
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "generator")
    if mode is ModuleMode.OFF:
        log.info("QT_GENERATOR_MODE=OFF: not searching")
        return GenerationReport(mode=mode)
    overrides = {
        k: v
        for k, v in (("population", population), ("generations", generations), ("seed", seed))
        if v is not None
    }
    config = GeneticConfig.from_settings(settings, **overrides)
    bars = fetch_search_bars(settings)
    started = read_clock(settings)
    progress = create_progress_artifact(progress=0.0, description="strategy generation")

    def report(generation: GenerationResult) -> None:
        done = (generation.generation + 1) / generation.generations
        update_progress_artifact(progress, progress=100 * done)
        log.info(
            "generation %d/%d: best %.3f (%s), %d scored, %d rejected",
            generation.generation + 1,
            generation.generations,
            generation.best_fitness,
            generation.best_genome,
            generation.evaluated,
            generation.rejected,
        )
        notify_progress(generation)

    result = StrategyGenerator(config).run(bars, progress=report, map_fn=prefect_map)
    now = read_clock(settings)
    run = save_evolution_run(settings, result, started, now)

    policy = read_policy(settings)
    entry = enter_shadow(result.best(10), policy, settings.promotion, run_id=run.run_id)
    records = read_shadow_records(settings, policy, now)
    transitions = [
        *entry.transitions,
        *review(policy.strategy_states, records, now, settings.promotion),
    ]
    version = None
    if transitions and mode is ModuleMode.ENFORCED:
        changes = promotion_patch(transitions, policy)
        reason = "; ".join(f"{t.strategy} -> {t.to_state}" for t in transitions)
        # allowed_strategies is written whole: only on the policy the decisions read
        version = patch_policy(
            settings, changes, by=NAME, reason=reason, expected_version=policy.version
        ).version
        record_state_changes(settings, [t.strategy for t in transitions], now)
    for transition in transitions:
        payload = transition.payload()
        if mode is not ModuleMode.ENFORCED:
            payload = payload.model_copy(
                update={"evidence": {**payload.evidence, "mode": "observe"}}
            )
        publish_event(settings, Event.create(STRATEGY_PROMOTED, payload, source=NAME))

    report = GenerationReport(
        mode=mode,
        run_id=run.run_id,
        seed=config.seed,
        best=[CandidateRow.of(e) for e in result.best(5)],
        shadow=[t.strategy for t in entry.transitions],
        transitions=transitions,
        fitness_history=list(result.fitness_history),
        policy_version=version,
    )
    if result.best(1):
        top = result.best(1)[0]
        publish_equity_chart(
            settings,
            backtest_candidate(settings, top.genome, bars),
            key="strategy-generation-best",
            title=f"Best candidate {top.candidate_name}: backtest over the whole history",
            empty=f"The best candidate {top.candidate_name} made no trade: nothing to chart.",
        )
    publish_markdown(
        "strategy-generation",
        report.render_markdown(),
        f"Strategy generation {run.run_id}: {len(transitions)} state changes",
    )
    return report


if __name__ == "__main__":
    strategy_generation()
