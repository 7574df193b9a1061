"""Tasks of the Strategy Generator and of the shadow/promotion review."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from components.analytics import Analytics
from components.engine.shadow import shadow_namespace
from components.events import RedisEventBus
from components.evolution import (
    EvolutionResult,
    EvolutionRun,
    EvolutionStore,
    GenerationResult,
    Genome,
    ShadowRecord,
    evaluate_batch,
)
from components.market import validate_bars
from components.policy import GlobalPolicy, StrategyState
from components.redis import namespaced
from components.settings import Settings
from tasks.common import compute_task, io_task
from tasks.research import task_map
from tasks.runtime import runtime

# One task evaluates a batch of genomes (the data travels once per batch, and a task per
# genome would cost more in overhead than the backtests).
evaluate_population_batch = compute_task("evaluate_population_batch")(evaluate_batch)


# The generator's ``map_fn``: each batch a task run on the flow's task runner (a process
# pool by default, Dask at QT_DASK_ADDRESS), results in batch order.
prefect_map = task_map(evaluate_population_batch)


# Listeners of each generation's result in this process (the command line's progress bar).
# They live here, not in the flow's module, which the process-pool task runner pickles.
_LISTENERS: list[Callable[[GenerationResult], None]] = []


def add_progress_listener(listener: Callable[[GenerationResult], None]) -> Callable[[], None]:
    """Call ``listener`` after each generation; returns the function that removes it."""
    _LISTENERS.append(listener)
    return lambda: _LISTENERS.remove(listener)


def notify_progress(generation: GenerationResult) -> None:
    for listener in list(_LISTENERS):
        listener(generation)


@io_task("fetch_search_bars")
def fetch_search_bars(settings: Settings) -> dict[str, pd.DataFrame]:
    """The engine's timeframe history of the symbols searched: the active universe first,
    then the market's other symbols, ``QT_EVOLUTION_SYMBOLS`` in all."""
    rt = runtime(settings)
    universe = rt.store.get().active_universe
    symbols = list(dict.fromkeys([*universe, *rt.market.symbols()]))[: settings.evolution.symbols]
    now = rt.market.now()
    timeframe, limit = settings.engine.timeframe, settings.evolution.history_bars
    source = type(rt.market).__name__
    return {
        symbol: validate_bars(
            rt.market.bars(symbol, timeframe, limit=limit, end=now),
            symbol=symbol,
            source=source,
            timeframe=timeframe,
        )
        for symbol in symbols
    }


@io_task("save_evolution_run")
def save_evolution_run(
    settings: Settings, result: EvolutionResult, started_at: datetime, finished_at: datetime
) -> EvolutionRun:
    store = EvolutionStore(runtime(settings).client, namespace=settings.namespace)
    return store.save_run(result, started_at=started_at, finished_at=finished_at)


def _since_key(settings: Settings) -> str:
    return namespaced(settings.namespace, "evolution", "state_since")


@io_task("record_state_changes")
def record_state_changes(settings: Settings, names: list[str], at: datetime) -> None:
    """Remember when each strategy entered its new state (its record counts from then)."""
    if names:
        runtime(settings).client.hset(
            _since_key(settings), mapping=dict.fromkeys(names, at.isoformat())
        )


@io_task("read_shadow_records")
def read_shadow_records(
    settings: Settings, policy: GlobalPolicy, now: datetime
) -> dict[str, ShadowRecord]:
    """What each shadow strategy earned in its paper account, and each live candidate in
    the real one, since it entered its state."""
    rt = runtime(settings)
    since_all: dict[str, str] = rt.client.hgetall(_since_key(settings))  # type: ignore[assignment]
    records: dict[str, ShadowRecord] = {}
    for name, state in policy.strategy_states.items():
        if state is StrategyState.RETIRED:
            continue
        shadow = state is StrategyState.SHADOW
        namespace = shadow_namespace(settings.namespace, name) if shadow else settings.namespace
        analytics = Analytics(rt.client, namespace=namespace)
        bus = RedisEventBus(rt.client, namespace=namespace)
        analytics.attach(bus)
        analytics.catch_up(bus)
        metrics = analytics.strategy_metrics().get(name)
        if metrics is None:
            continue
        since = datetime.fromisoformat(since_all[name]) if name in since_all else now
        capital = settings.shadow.capital if shadow else settings.paper.initial_cash
        records[name] = ShadowRecord.from_metrics(metrics, since=since, capital=capital)
    return records


@compute_task("backtest_candidate")
def backtest_candidate(
    settings: Settings, genome: Genome, bars: dict[str, pd.DataFrame]
) -> pd.Series:
    """The equity of ``genome`` backtested over all of ``bars`` (in and out of sample),
    summed across symbols; empty when it made no trade (nothing worth a chart)."""
    from components.backtest import BacktestConfig, Backtester

    result = Backtester(BacktestConfig.from_settings(settings)).run_many(
        genome.build(), bars, timeframe=settings.engine.timeframe
    )
    return result.equity if len(result.trades) else result.equity.iloc[:0]
