"""Research on a Dask cluster: the strategy generator's population and the retraining's
walk-forward splits fan out through prefect-dask's DaskTaskRunner when QT_DASK_ADDRESS
names a scheduler, and the same seed gives the same result as on the local process pool.
One LocalCluster serves the whole module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from components.redis import delete_namespace

pytestmark = [pytest.mark.usefixtures("prefect_server", "qt_env"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def small_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_EVOLUTION_HISTORY_BARS", "1500")
    monkeypatch.setenv("QT_EVOLUTION_SYMBOLS", "2")


@pytest.fixture
def small_retraining(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three walk-forward splits of two symbols that train in about a second each."""
    monkeypatch.setenv("QT_CLM_TRAIN_BARS", "400")
    monkeypatch.setenv("QT_CLM_EVAL_BARS", "150")
    monkeypatch.setenv("QT_CLM_HISTORY_BARS", "1000")
    monkeypatch.setenv("QT_MARKET_SYMBOLS", "BTC/USDT,ETH/USDT")


@pytest.fixture
def dask_namespace(
    namespace: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The run on Dask gets a store of its own (set when the test asks for it)."""
    yield
    delete_namespace(redis.Redis.from_url(redis_url), f"{namespace}-dask")


def test_qt_dask_address_selects_the_dask_task_runner(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.task_runners import ProcessPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from tasks.research import research_task_runner

    assert isinstance(research_task_runner(), ProcessPoolTaskRunner)
    monkeypatch.setenv("QT_DASK_ADDRESS", dask_scheduler)
    runner = research_task_runner()
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == dask_scheduler


@pytest.mark.usefixtures("small_search", "dask_namespace")
def test_the_same_seed_gives_the_same_candidates_on_dask_and_on_the_process_pool(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    from prefect_dask import DaskTaskRunner

    from flows.strategy_generation import strategy_generation

    on_pool = strategy_generation(population=8, generations=2, seed=3)
    monkeypatch.setenv("QT_NAMESPACE", f"{namespace}-dask")
    on_dask = strategy_generation.with_options(task_runner=DaskTaskRunner(address=dask_scheduler))(
        population=8, generations=2, seed=3
    )

    assert on_dask.best == on_pool.best
    assert on_dask.fitness_history == on_pool.fitness_history


@pytest.mark.usefixtures("small_retraining", "dask_namespace")
def test_retraining_splits_fan_out_on_dask_with_the_same_result_as_in_process(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    """The splits travel to the Dask workers and back; the report is the one of the same
    retraining run in the flow's own process. (Threads stand in for the default process
    pool here: a pool starts fresh workers per flow run, which would cost this test more
    than the rest of it; the pool's selection is tested above, and the strategy
    generation test runs it.)"""
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.clm_retraining import clm_retraining

    here = clm_retraining.with_options(task_runner=ThreadPoolTaskRunner(max_workers=1))()
    monkeypatch.setenv("QT_NAMESPACE", f"{namespace}-dask")
    on_dask = clm_retraining.with_options(task_runner=DaskTaskRunner(address=dask_scheduler))()

    assert len(here.walk_forward) == 3
    assert on_dask.model_dump_json() == here.model_dump_json()
