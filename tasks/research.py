"""Where the research flows (strategy generation, retraining) run their parallel work:
the task runner, and the ``map_fn`` that hands a component's work items to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prefect import Task

from components.errors import ConfigurationError
from components.settings import load_settings


def research_task_runner() -> Any:
    """The task runner of the research flows: prefect-dask's ``DaskTaskRunner`` on the
    scheduler at ``QT_DASK_ADDRESS`` when set (``pip install 'quantum-trader[dask]'``),
    the local process pool otherwise. Chosen when the flow module is imported, i.e. in
    the process that runs the flow, from its environment."""
    from prefect.task_runners import ProcessPoolTaskRunner

    try:
        address = load_settings().evolution.dask_address
    except ConfigurationError:  # the flow itself reports the bad setting when it starts
        address = None
    if address is None:
        return ProcessPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigurationError(
            "QT_DASK_ADDRESS is set but prefect-dask is not installed: "
            "pip install 'quantum-trader[dask]'"
        ) from None
    return DaskTaskRunner(address=address)


def task_map(task: Task[..., Any]) -> Callable[[Callable[..., Any], Iterable[Any]], list[Any]]:
    """A component's ``map_fn`` (``map_fn(fn, items)``) that runs each item as a run of
    ``task`` (the task wrapping that same ``fn``) on the flow's task runner, results in
    item order.

    Example: ``StrategyGenerator(config).run(bars, map_fn=task_map(evaluate_population_batch))``.
    """

    def map_fn(fn: Callable[..., Any], items: Iterable[Any]) -> list[Any]:
        work = list(items)
        if len(work) == 1:  # nothing to fan out: a worker's start-up would cost more
            return [fn(work[0])]
        futures = task.map(work)
        return [future.result() for future in futures]

    return map_fn
