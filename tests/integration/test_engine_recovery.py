"""Kill the engine process with SIGKILL in the middle of a run, start it again, and find
the ledger consistent and no client order id filled twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from components.execution import Ledger
from components.market import SyntheticMarket
from components.policy import PolicyStore
from components.settings import Settings
from tests.integration.conftest import assert_ledger_consistent

pytestmark = pytest.mark.usefixtures("prefect_server")

ENGINE = [str(Path(sys.executable).parent / "quantum-trader"), "engine", "run",
          "--speed", "3000", "--interval", "0.05"]  # fmt: skip


def engine_env(qt_env: dict[str, str]) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**qt_env, "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_LOGGING_LEVEL": "WARNING"}  # fmt: skip


def test_sigkill_mid_run_then_restart_keeps_the_ledger_consistent(
    settings: Settings, client: redis.Redis, qt_env: dict[str, str]
) -> None:
    PolicyStore.connect(settings).patch(
        {"active_universe": SyntheticMarket().symbols()[:10], "global_min_confidence": 0.5},
        by="tests", reason="let the engine trade",
    )  # fmt: skip
    ledger = Ledger(client, namespace=settings.namespace)
    env = engine_env(qt_env)
    first = subprocess.Popen(ENGINE, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 180
    while len(ledger.fills()) < 4:  # trading for real before the kill
        assert first.poll() is None, "the engine exited before it was killed"
        assert time.monotonic() < deadline, "the engine placed no fills in 3 minutes"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    before = len(ledger.fills(limit=None))

    second = subprocess.run([*ENGINE, "--cycles", "80"], env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stderr[-2000:]

    assert len(ledger.fills(limit=None)) >= before
    assert_ledger_consistent(client, settings.namespace)
