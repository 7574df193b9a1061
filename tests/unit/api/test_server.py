"""Serving the API: where it may listen, and the live event stream over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import httpx
import pytest

from components.access import Role, TokenStore, api_base_url
from components.errors import ConfigurationError
from components.events import Event, RedisEventBus
from components.risk.emergency import EmergencyStop
from components.settings import Settings
from deployments.api.server import check_bind, check_port_free
from tests.unit.api.conftest import NOW


def test_it_refuses_to_listen_beyond_loopback_without_a_token(settings: Settings) -> None:
    check_bind(settings, "127.0.0.1")
    check_bind(settings, "::1")
    with pytest.raises(ConfigurationError, match=r"QT_API_HOST=0\.0\.0\.0 .* no API token"):
        check_bind(settings, "0.0.0.0")
    TokenStore.connect(settings).create("ops", Role.OPERATOR, now=NOW)
    check_bind(settings, "0.0.0.0")


def test_a_port_another_program_listens_on_is_refused_in_one_line() -> None:
    """A second `up` (another QT_HOME) printed the first one's API as its own: its API
    could not bind, and the other answered the readiness check."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=rf"127\.0\.0\.1:{port} is already in use"):
            check_port_free("127.0.0.1", port)
        with pytest.raises(ConfigurationError, match="QT_API_PORT"):
            check_port_free("0.0.0.0", port)
    check_port_free("127.0.0.1", port)  # closed: free again


def test_the_address_a_browser_uses() -> None:
    from components.settings import load_settings

    assert api_base_url(load_settings(api_port=8050)) == "http://127.0.0.1:8050"
    assert api_base_url(load_settings(), "0.0.0.0", 9000) == "http://127.0.0.1:9000"


def read_events(
    url: str,
    headers: dict[str, str],
    count: int,
    received: list[dict[str, Any]],
    attached: threading.Event | None = None,
) -> None:
    """Collect ``count`` SSE messages (id, event, data) from ``url``; set ``attached`` once
    the stream has begun (its starting point is fixed then)."""
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        message: dict[str, Any] = {}
        for line in response.iter_lines():
            if attached is not None:
                attached.set()
            if not line:
                if "data" in message:
                    received.append(message)
                    if len(received) >= count:
                        return
                message = {}
                continue
            field, _, value = line.partition(": ")
            if field in ("id", "event", "data"):
                message[field] = value


def test_the_stream_delivers_new_events_and_resumes_from_last_event_id(
    settings: Settings, live_api: str, viewer_headers: dict[str, str]
) -> None:
    bus = RedisEventBus.connect(settings)
    received: list[dict[str, Any]] = []
    attached = threading.Event()
    reader = threading.Thread(
        target=read_events,
        args=(f"{live_api}/api/events/stream", viewer_headers, 2, received, attached),
        daemon=True,
    )
    reader.start()
    assert attached.wait(15)
    ess = EmergencyStop.connect(settings, bus=bus)
    ess.halt("one", by="ops")
    ess.resume(by="ops", reason="two")
    reader.join(timeout=15)
    assert [m["event"] for m in received] == ["ess.state_changed"] * 2
    first, second = (json.loads(m["data"]) for m in received)
    assert (first["payload"]["state"], second["payload"]["state"]) == ("HALTED", "ACTIVE")
    assert first["position"] == received[0]["id"]

    # events published while nobody listens are delivered on reconnection
    payload = {"state": "HALTED", "previous": "ACTIVE", "reason": "three", "by": "x"}
    bus.publish(Event.create("ess.state_changed", payload, source="t"))
    resumed: list[dict[str, Any]] = []
    read_events(
        f"{live_api}/api/events/stream",
        viewer_headers | {"Last-Event-ID": received[1]["id"]},
        1,
        resumed,
    )
    reasons = [json.loads(m["data"])["payload"]["reason"] for m in resumed]
    assert reasons[-1] in ("two", "three")  # the last millisecond may come again
    if reasons[-1] == "two":
        more: list[dict[str, Any]] = []
        read_events(f"{live_api}/api/events/stream",
                    viewer_headers | {"Last-Event-ID": resumed[0]["id"]}, 2, more)  # fmt: skip
        assert "three" in [json.loads(m["data"])["payload"]["reason"] for m in more]


def test_the_api_process_delivers_alerts_to_qt_alert_urls(
    settings: Settings, qt_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    from tests.receivers import JsonReceiver, free_port, wait_until

    receiver = JsonReceiver()
    port = free_port()
    env = qt_env | {"QT_ALERT_URLS": receiver.url, "QT_API_PORT": str(port)}
    api = subprocess.Popen(
        [sys.executable, "-m", "deployments.api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
            except httpx.HTTPError:
                assert api.poll() is None, api.stderr.read() if api.stderr else ""
                return False

        wait_until(healthy, 60, "the API to answer")
        # the alerter's consumer group starts at its first start: wait until it exists
        stream = f"{settings.namespace}:events:ess.state_changed"
        client = RedisEventBus.connect(settings).client
        wait_until(lambda: _has_group(client, stream, "alerts"), 30, "the alerter to subscribe")
        EmergencyStop.connect(settings, bus=RedisEventBus.connect(settings)).halt(
            "drawdown", by="ops"
        )
        wait_until(lambda: receiver.received, 30, "the alert")
    finally:
        api.terminate()
        api.wait(timeout=30)
        receiver.close()
    assert receiver.received[0]["title"] == f"[{settings.namespace}] Emergency stop HALTED"


def _has_group(client: Any, stream: str, group: str) -> bool:
    try:
        return any(g["name"] == group for g in client.xinfo_groups(stream))
    except Exception:
        return False
