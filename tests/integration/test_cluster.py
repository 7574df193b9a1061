"""Beyond one machine (issue 12): a Prefect server on a fresh PostgreSQL database, two
workers standing for two machines (each its own QT_HOME), one shared Redis.

`quantum-trader deploy` deploys everything; every scheduled deployment completes a run; one
engine session trades, and a second account deployed from the same prefect.yaml trades
beside it in its own namespace; the worker holding the first engine is killed with its
runs (kill -9 of its process group: a lost machine) and the other worker's next session
trades within the liveness bound; the ledger stays consistent and no order fills twice;
every decision is in the one shared Redis. Then a worker started without QT_REDIS_URL
fails its run with the one-line split-brain error and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from components.engine.lease import EngineLease
from components.events import RedisEventBus
from components.policy import PolicyStore
from components.redis import delete_namespace
from deployments.prefect_server import free_port
from tests.integration.conftest import (
    SMALL_RESEARCH,
    assert_ledger_consistent,
    descendants,
    trading_session,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
LIVENESS_BOUND_S = 300
BIN = Path(sys.executable).parent
ENV = {
    **SMALL_RESEARCH,
    "QT_ENGINE_INTERVAL_S": "3",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


def _pg(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(database="postgres", timeout=5, **PG)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    name = f"qt_test_{uuid.uuid4().hex[:12]}"
    try:
        _pg(f'CREATE DATABASE "{name}"')
    except (OSError, ConnectionError) as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 ({exc})")
    yield f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Machines:
    """The processes of the test, each in a process group of its own (killed at the end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """kill -9 the machine: its process group and everything it started (the process
        worker starts each flow run in a session of its own)."""
        process = self.processes.pop(name)
        doomed = descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)

    def running(self, pid: int) -> str:
        """The machine whose processes include ``pid``."""
        return next(
            name for name, p in self.processes.items() if pid == p.pid or pid in descendants(p.pid)
        )

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def kill_all(self) -> None:
        for name in list(self.processes):
            self.kill(name)


def test_two_workers_one_redis_one_engine_that_survives_the_loss_of_its_worker(
    tmp_path: Path, database: str, redis_url: str, namespace: str, client: redis.Redis
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    machines = Machines(tmp_path)
    account_b = f"{namespace}-b"
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    auth = f"cluster-test:{uuid.uuid4().hex}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "QT_"))}
    base |= ENV
    server_env = {**base, "QT_HOME": str(tmp_path / "server"),
                  "PREFECT_SERVER_API_AUTH_STRING": auth}  # fmt: skip
    client_env = {**base, "PREFECT_API_URL": api_url, "PREFECT_API_AUTH_STRING": auth}

    def worker_env(name: str, *, redis: bool = True) -> dict[str, str]:
        env = {**client_env, "QT_HOME": str(tmp_path / name)}
        if redis:
            env["QT_REDIS_URL"] = redis_url
        return env

    def worker(name: str, *, redis: bool = True) -> None:
        argv = [str(BIN / "prefect"), "worker", "start", "--pool", "quantum-trader",
                "--type", "process", "--name", name]  # fmt: skip
        machines.start(name, argv, worker_env(name, redis=redis))

    try:
        machines.start("server", [str(BIN / "quantum-trader"), "server", "--port", str(port),
                                  "--database", database], server_env)  # fmt: skip
        wait_until("the server answers", lambda: _healthy(api_url), 300)

        deployer = {**client_env, "QT_NAMESPACE": namespace, "QT_HOME": str(tmp_path / "deploy")}
        # The work pool first, so that both workers can start before the first runs.
        done = deploy(deployer, "--no-first-runs")
        assert done.returncode == 0, done.stdout + done.stderr
        worker("machine-a")
        worker("machine-b")
        done = deploy(deployer)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "started a first run of trading-engine" in done.stdout

        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}):
            with get_client(sync_client=True) as prefect:
                deployments = prefect.read_deployments(
                    deployment_filter=DeploymentFilter(
                        name=DeploymentFilterName(like_=f"-{namespace}")
                    )
                )
                scheduled = {d.id: d.name for d in deployments if d.schedules}
                assert len(scheduled) == 8, sorted(scheduled.values())

                def completed() -> set[str]:
                    runs = prefect.read_flow_runs(limit=200)
                    return {
                        scheduled[r.deployment_id]
                        for r in runs
                        if r.deployment_id in scheduled and r.state and r.state.is_completed()
                    }

                # Every scheduled deployment completes a run; the engine's is a long session.
                everyone = set(scheduled.values()) - {f"trading-engine-{namespace}"}
                wait_until(f"a completed run of each of {sorted(everyone)}",
                           lambda: everyone <= completed(), 600)  # fmt: skip

            epoch = datetime(2000, 1, 1, tzinfo=UTC)
            first = wait_until("an engine session trades",
                               lambda: trading_session(client, namespace, epoch), 300)  # fmt: skip
            # A second account from the same prefect.yaml: deployments and an engine of its
            # own, trading beside the first one's, in its own namespace only.
            done = deploy({**deployer, "QT_NAMESPACE": account_b}, "--no-first-runs")
            assert done.returncode == 0, done.stdout + done.stderr
            with get_client(sync_client=True) as prefect:
                engine_b = prefect.read_deployment_by_name(
                    f"trading-engine/trading-engine-{account_b}"
                )
                assert engine_b.job_variables["env"]["QT_NAMESPACE"] == account_b
                limit = engine_b.global_concurrency_limit  # its own, not account a's
                assert limit is not None and limit.limit == 1
                engine_a = prefect.read_deployment_by_name(
                    f"trading-engine/trading-engine-{namespace}"
                )
                assert engine_a.global_concurrency_limit is not None
                assert engine_a.global_concurrency_limit.id != limit.id
            run_deployment(f"opportunity-ranking/opportunity-ranking-{account_b}", timeout=0)
            run_deployment(f"trading-engine/trading-engine-{account_b}", timeout=0)
            wait_until("both accounts' engines trade at once",
                       lambda: trading_session(client, account_b, epoch)
                       and trading_session(client, namespace, epoch), 300)  # fmt: skip
            wait_until("account b ranks in its own namespace",
                       lambda: PolicyStore(client, namespace=account_b).get().opp_rankings,
                       300)  # fmt: skip
            ours = {e.source for e in RedisEventBus(client, namespace=account_b).tail(
                "opportunities.updated", count=100)}  # fmt: skip
            assert ours == {"opportunity-ranking"}

            lease = EngineLease(client, namespace=namespace).holder()
            assert lease is not None
            holding = machines.running(lease.pid)
            assert holding.startswith("machine-")

            killed_at = datetime.now(UTC)
            machines.kill(holding)  # the machine running the engine is lost
            second = wait_until("the other worker's session trades",
                                lambda: trading_session(client, namespace, killed_at),
                                LIVENESS_BOUND_S)  # fmt: skip
            resumed_s = (datetime.now(UTC) - killed_at).total_seconds()
            assert second != first
            survivor = next(n for n in machines.processes if n.startswith("machine-"))
            lease = EngineLease(client, namespace=namespace).holder()
            assert lease is not None
            assert machines.running(lease.pid) == survivor
            print(f"engine traded again {resumed_s:.0f} s after its worker was killed")

            with get_client(sync_client=True) as prefect:
                dead = prefect.read_flow_run(first)
                assert dead.state is not None and dead.state.is_crashed()
                assert (dead.state.message or "").startswith("process gone")

            # Every decision is in the one shared Redis; no machine started a Redis of its own.
            assert PolicyStore(client, namespace=namespace).get().version > 1
            for name in ("machine-a", "machine-b"):
                assert not list((tmp_path / name).glob("redis*")), name
            assert_ledger_consistent(client, namespace)  # no order placed twice

            # A worker without QT_REDIS_URL refuses the embedded Redis: one line, nothing written.
            machines.kill(survivor)
            worker("machine-c", redis=False)
            version = PolicyStore(client, namespace=namespace).get().version
            run = run_deployment(f"opportunity-ranking/opportunity-ranking-{namespace}",
                                 timeout=300)  # fmt: skip
            assert run.state is not None and run.state.is_failed(), run.state
            message = run.state.message or ""
            assert "QT_REDIS_URL" in message and "split" in message, message
            assert PolicyStore(client, namespace=namespace).get().version == version
            assert not list((tmp_path / "machine-c").glob("redis*"))
    finally:
        machines.kill_all()
        delete_namespace(client, account_b)


def deploy(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "quantum-trader"), "deploy", *argv], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def _healthy(api_url: str) -> bool:
    from deployments.prefect_server import api_healthy

    return api_healthy(api_url)
