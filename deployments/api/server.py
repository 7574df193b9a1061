"""Run the API: ``python -m deployments.api`` or ``quantum-trader api``.

Listens on ``QT_API_HOST:QT_API_PORT`` (127.0.0.1:8000). Anywhere beyond the loopback
interface it refuses to start until at least one API token exists: every route but
``/api/health`` needs one anyway, and an empty token store there is a mistake. With
``QT_ALERT_URLS`` set, the same process delivers alerts (:mod:`components.alerts`).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

from components.access import TokenStore
from components.errors import ConfigurationError
from components.market import SystemClock
from components.settings import Settings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(settings: Settings, host: str) -> None:
    """Refuse a non-loopback ``host`` while the token store is empty.

    Raises
    ------
    ConfigurationError
        Naming the host and the command that creates a token.
    """
    if is_loopback(host):
        return
    if TokenStore.connect(settings).count() == 0:
        raise ConfigurationError(
            f"QT_API_HOST={host} would expose the API beyond this machine, and no API token "
            "exists yet: create one first (quantum-trader api token create --role operator "
            "--name <you>)"
        )


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on: `up` would otherwise take that
    program (another `up`'s API, of another account) for its own API.

    Raises
    ------
    ConfigurationError
        Naming the address and the setting that moves it.
    """
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((probe, port), timeout=1):
            pass
    except OSError:
        return  # nothing answers: free (or unreachable, which binding will tell)
    raise ConfigurationError(
        f"{host}:{port} is already in use (another `quantum-trader up` or api?): stop it, "
        "or choose another port with QT_API_PORT"
    )


def start_alerter(settings: Settings) -> tuple[threading.Thread, threading.Event] | None:
    """Deliver alerts from a thread of this process when ``QT_ALERT_URLS`` is set."""
    if settings.alerts.urls is None:
        return None
    from components.alerts import Alerter

    alerter = Alerter.connect(settings, clock=SystemClock())
    stop = threading.Event()
    thread = threading.Thread(target=alerter.run, args=(stop,), name="alerter", daemon=True)
    thread.start()
    log.info("alerts go to %d target(s)", len(alerter.config.urls))
    return thread, stop


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the API until interrupted (Ctrl-C, SIGTERM)."""
    import uvicorn

    from deployments.api.app import create_app

    host = host or settings.api.host
    port = port or settings.api.port
    check_bind(settings, host)
    check_port_free(host, port)
    app = create_app(settings)
    alerts = start_alerter(settings)
    try:
        uvicorn.run(
            app, host=host, port=port, log_level="info", server_header=False,
            timeout_graceful_shutdown=5,  # open event streams must not hold a stop up
        )  # fmt: skip
    finally:
        if alerts is not None:
            thread, stop = alerts
            stop.set()
            thread.join(timeout=10)
