"""`quantum-trader engine run` says when its work failed: cycles that failed because Redis
went away make it exit 1 saying how many, in one line, with no traceback on the console."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from components.engine import read_heartbeat
from components.redis import ensure_embedded, stop_embedded
from components.settings import Settings
from deployments.cli import main
from tests.integration.conftest import wait_until

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(240)]


@pytest.fixture
def own_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qt_env: dict[str, str]
) -> Iterator[Path]:
    """A Redis server of this test's own (the test stops it), set as QT_REDIS_URL."""
    home = tmp_path / "own-redis"
    monkeypatch.setenv("QT_REDIS_URL", f"unix://{ensure_embedded(home)}")
    yield home
    stop_embedded(home)


def test_engine_run_whose_cycles_failed_exits_1_saying_how_many(
    capfd: pytest.CaptureFixture[str], own_redis: Path, settings: Settings
) -> None:
    codes: list[int] = []
    argv = ["engine", "run", "--cycles", "4", "--interval", "2"]
    engine = threading.Thread(target=lambda: codes.append(main(argv)))
    engine.start()
    client = redis.Redis(unix_socket_path=str(ensure_embedded(own_redis)), decode_responses=True)
    wait_until("a first cycle", lambda: read_heartbeat(client, settings.namespace), 120)
    stop_embedded(own_redis)  # Redis goes away mid-run: the next cycles place nothing
    engine.join(120)
    assert not engine.is_alive()
    _, err = capfd.readouterr()
    assert codes == [1]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "of 4 engine cycles failed" in last
