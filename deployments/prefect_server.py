"""Prefect servers Quantum Trader starts, always with authentication.

- :func:`auth_string`: the server's basic-auth string (``user:password``). Taken from
  ``PREFECT_SERVER_API_AUTH_STRING`` (or ``PREFECT_API_AUTH_STRING``) when the user gives
  one; otherwise generated on first use and kept in ``QT_HOME/prefect/auth`` with mode
  0600 (a file with wider permissions is refused). It is a secret: never printed, logged
  or passed as a flow parameter; only environment variables carry it to the processes
  that need it.
- :func:`server_command` / :func:`server_env`: ``prefect server start`` bound to
  127.0.0.1 unless told otherwise, with the auth string, its data under ``QT_HOME/prefect``
  (or ``PREFECT_API_DATABASE_CONNECTION_URL``, e.g. PostgreSQL), and concurrency leases
  kept on disk so a dead run's slot is freed after a restart too.
- :func:`client_env`: what every client process needs (``serve``, workers, the API, the
  CLI): the API URL, the auth string and the heartbeat frequency the liveness checks use.
- :func:`temporary_server`: for a command that runs flows in-process with no
  ``PREFECT_API_URL``: an authenticated server on a free local port that dies with the
  command (even a SIGKILLed one), instead of Prefect's own temporary server, which has no
  auth and outlives a killed parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from components.errors import ConfigurationError, TemporaryError
from tasks.liveness import HEARTBEAT_FREQUENCY_S

QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
AUTH_USER = "quantum-trader"
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
_PR_SET_PDEATHSIG = 1


def auth_path(home: Path) -> Path:
    return home.expanduser().resolve() / "prefect" / "auth"


def auth_string(home: Path) -> str:
    """The basic-auth string of the Prefect server ``up`` starts (see the module docstring).

    Raises
    ------
    ConfigurationError
        The kept file can be read by others than its owner, or is empty.
    """
    for name in ("PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING"):
        if os.environ.get(name):
            return os.environ[name]
    path = auth_path(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = f"{AUTH_USER}:{secrets.token_urlsafe(24)}"
        with contextlib.suppress(FileExistsError):  # another process wrote it first
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(value + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"{path} holds the Prefect server's password but has mode {mode:o}; "
            f"run: chmod 600 {path}"
        )
    value = path.read_text().strip()
    if ":" not in value:
        raise ConfigurationError(f"{path} must hold 'user:password'; delete it to get a new one")
    return value


def client_env(api_url: str, auth: str) -> dict[str, str]:
    """The environment of a process that talks to the server at ``api_url``."""
    return {
        **QUIET,
        "PREFECT_API_URL": api_url,
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_FREQUENCY_S),
    }


def server_env(home: Path, auth: str, *, database_url: str | None = None) -> dict[str, str]:
    """The environment of the server process (add it to ``os.environ``)."""
    env = {
        **QUIET,
        "PREFECT_HOME": str(home.expanduser().resolve() / "prefect"),
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": LEASE_STORAGE,
    }
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    return env


def server_command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]


def api_healthy(api_url: str) -> bool:
    """True when the server answers its (open) health route."""
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def auth_accepted(api_url: str, auth: str) -> bool:
    """True when the server at ``api_url`` accepts ``auth`` (or needs none)."""
    user, _, password = auth.partition(":")
    try:
        response = httpx.post(
            f"{api_url}/flows/filter", json={"limit": 1}, auth=(user, password), timeout=5
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the parent dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def temporary_server(*, timeout_s: float = 120.0) -> Iterator[dict[str, str]]:
    """An authenticated Prefect API on a free local port for the duration of the block.

    Yields the client environment (already set in ``os.environ`` and in Prefect's
    settings for this process). The server is stopped at the end and dies with this
    process if it is killed.
    """
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    port = free_port()
    auth = f"{AUTH_USER}:{secrets.token_urlsafe(24)}"
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **QUIET,
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_UI_ENABLED": "0",
    }
    for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    saved = {name: os.environ.get(name) for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING")}
    try:
        deadline = time.monotonic() + timeout_s
        while not api_healthy(api_url):
            if process.poll() is not None:
                raise TemporaryError(
                    f"the temporary Prefect server exited with code {process.returncode}"
                )
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"the temporary Prefect server did not start in {timeout_s:g}s"
                )
            time.sleep(0.2)
        client = client_env(api_url, auth)
        os.environ.update(client)
        with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}):
            yield client
    finally:
        _flush_api_logs()  # while the server still listens, or Prefect prints errors
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stop_process(process, grace_s=10)


def _flush_api_logs() -> None:
    from prefect.logging.handlers import APILogWorker

    with contextlib.suppress(Exception):  # a log not sent must not hide the real outcome
        APILogWorker.drain_all(timeout=5)


def stop_process(process: subprocess.Popen[bytes], *, grace_s: float, group: bool = False) -> None:
    """SIGTERM the process (its whole process group, if ``group``: e.g. ``serve`` with its
    flow runs), wait up to ``grace_s`` for all of it to exit, then SIGKILL what is left."""

    def send(signum: int) -> bool:
        try:
            if group:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)
        except ProcessLookupError:
            return False
        return True

    def gone() -> bool:
        process.poll()  # reap the leader
        return process.returncode is not None and not (group and send(0))

    if not send(signal.SIGTERM):
        process.poll()
        return
    deadline = time.monotonic() + grace_s
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.2)
    if not gone():
        send(signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
