"""Research on a Dask cluster: the strategy generator's population fans out through
prefect-dask's DaskTaskRunner when QT_DASK_ADDRESS names a scheduler, and the same seed
gives the same result as on the local process pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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


def test_qt_dask_address_selects_the_dask_task_runner(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.task_runners import ProcessPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from tasks.evolution import research_task_runner

    assert isinstance(research_task_runner(), ProcessPoolTaskRunner)
    monkeypatch.setenv("QT_DASK_ADDRESS", dask_scheduler)
    runner = research_task_runner()
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == dask_scheduler


@pytest.mark.usefixtures("small_search")
def test_the_same_seed_gives_the_same_candidates_on_dask_and_on_the_process_pool(
    dask_scheduler: str, monkeypatch: pytest.MonkeyPatch, namespace: str
) -> None:
    from prefect_dask import DaskTaskRunner

    from flows.strategy_generation import strategy_generation

    on_pool = strategy_generation(population=8, generations=2, seed=3)
    monkeypatch.setenv("QT_NAMESPACE", f"{namespace}-dask")  # a store of its own
    try:
        on_dask = strategy_generation.with_options(
            task_runner=DaskTaskRunner(address=dask_scheduler)
        )(population=8, generations=2, seed=3)
    finally:
        import redis

        from components.redis import delete_namespace
        from components.settings import load_settings

        settings = load_settings()
        assert settings.redis_url is not None
        delete_namespace(
            redis.Redis.from_url(settings.redis_url.get_secret_value()), settings.namespace
        )

    assert on_dask.best == on_pool.best
    assert on_dask.fitness_history == on_pool.fitness_history
