"""A command that runs flows with no Prefect API gets an authenticated temporary server
that dies with it, even when the command is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import descendants, wait_until

pytestmark = pytest.mark.timeout(300)


def temporary_server_port(pid: int) -> int | None:
    """The port of the Prefect server the process ``pid`` started, once it answers."""
    for child in descendants(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prefect.server.api.server:create_app" in argv:
            port = int(argv[argv.index(b"--port") + 1])
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).raise_for_status()
            except httpx.HTTPError:
                return None
            return port
    return None


def test_a_killed_engine_run_leaves_no_prefect_server_and_its_server_needs_auth(
    qt_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in qt_env.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1"}  # fmt: skip
    argv = [str(Path(sys.executable).parent / "quantum-trader"), "engine", "run", "--interval", "1"]
    command = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        port = wait_until("the temporary server answers",
                          lambda: temporary_server_port(command.pid), 180)  # fmt: skip
        api = f"http://127.0.0.1:{port}/api"
        assert httpx.post(f"{api}/flows/filter", json={}, timeout=10).status_code == 401
        server_pids = {
            p for p in descendants(command.pid)
            if b"create_app" in Path(f"/proc/{p}/cmdline").read_bytes()
        }  # fmt: skip
        assert server_pids

        os.kill(command.pid, signal.SIGKILL)  # not the group: only the command dies
        command.wait(timeout=30)

        def gone() -> bool:
            return not any(Path(f"/proc/{p}").exists() for p in server_pids)

        wait_until("the temporary server stops with its command", gone, 30)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
        for pid in descendants(command.pid):
            os.kill(pid, signal.SIGKILL)
