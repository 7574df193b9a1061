"""``quantum-trader up`` killed mid-session, started again: the engine trades again within
the liveness bound and the status says it was down and why; Ctrl-C then stops everything.

The whole system runs here (an authenticated Prefect server, serve, every deployment), on
the test Redis in a namespace of the test's own, with the research flows shrunk.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from components.engine.lease import EngineLease
from deployments.prefect_server import free_port
from tests.integration.conftest import SMALL_RESEARCH, trading_session, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

LIVENESS_BOUND_S = 300  # DESIGN.md section 6: a dead session stops blocking within 5 min
SMALL = {**SMALL_RESEARCH, "QT_ENGINE_INTERVAL_S": "3"}


def start_up(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """``up`` in a session of its own, with SIGINT delivered as a terminal's Ctrl-C would."""
    argv = [str(Path(sys.executable).parent / "quantum-trader"), "up", "--port", str(port)]
    return subprocess.Popen(
        argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_killed_mid_session_trades_again_after_a_restart_and_ctrl_c_stops_all(
    tmp_path: Path, redis_url: str, namespace: str, client: redis.Redis
) -> None:
    home = tmp_path / "home"
    # INFO whatever an earlier test left in os.environ: the session's last line is INFO.
    env = {**os.environ, **SMALL, "QT_HOME": str(home), "QT_REDIS_URL": redis_url,
           "QT_NAMESPACE": namespace, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "QT_API_PORT": str(free_port()),
           "PREFECT_LOGGING_LEVEL": "INFO"}  # fmt: skip
    for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_HOME"):
        env.pop(name, None)
    port = free_port()
    log = tmp_path / "up.log"
    first = start_up(env, port, log)
    try:
        session = wait_until(
            "a first engine session trades",
            lambda: trading_session(client, namespace, datetime(2000, 1, 1, tzinfo=UTC)),
            420,
        )
        auth = home / "prefect" / "auth"
        assert auth.stat().st_mode & 0o777 == 0o600
        assert auth.read_text().strip() not in log.read_text()  # the password is never shown

        # Everything up started dies at once, as in a crash: no clean stop, no final state.
        record = json.loads((home / "up.json").read_text())
        killed_at = datetime.now(UTC)
        for pgid in record["children"].values():
            os.killpg(pgid, signal.SIGKILL)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)

        second = start_up(env, port, log)
        resumed = wait_until(
            "a new engine session trades",
            lambda: trading_session(client, namespace, killed_at),
            LIVENESS_BOUND_S,
        )
        assert resumed != session
        text = log.read_text()
        down = r"engine DOWN \(last session crashed at [0-9:]+: process gone: (.+)\)"
        assert re.search(down, text), text[-3000:]
        assert "Crashed: process gone" in text

        # Ctrl-C stops everything the second `up` started, the engine's session cleanly.
        record = json.loads((home / "up.json").read_text())
        before = len(log.read_text())
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=180) == 0, log.read_text()[-3000:]
        assert not any(group_alive(pgid) for pgid in record["children"].values())
        assert EngineLease(client, namespace=namespace).holder() is None
        assert not (home / "up.json").exists()
        # The session ended itself (its last line, its final state), not killed with serve.
        stopping = log.read_text()[before:]
        assert re.search(r"ended \d+ flow runs? of serve", stopping), stopping
        assert "released the engine lease" not in stopping  # the session let go of it
        serve_log = (home / "logs" / "serve.log").read_text()
        stopped = r"Flow run '[\w-]+' - stopped after \d+ cycles"
        assert re.search(stopped, serve_log), serve_log[-3000:]
    finally:
        for process in (first, locals().get("second")):
            if isinstance(process, subprocess.Popen) and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        leftover = home / "up.json"
        if leftover.exists():
            for pgid in json.loads(leftover.read_text())["children"].values():
                if group_alive(pgid):
                    os.killpg(pgid, signal.SIGKILL)
