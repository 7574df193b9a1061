"""An API client on the test's namespace, and tokens of each role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from components.access import Role, TokenStore
from components.settings import Settings
from deployments.api.app import create_app

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def operator_headers(settings: Settings) -> dict[str, str]:
    return bearer(TokenStore.connect(settings).create("alice", Role.OPERATOR, now=NOW).secret)


@pytest.fixture
def viewer_headers(settings: Settings) -> dict[str, str]:
    return bearer(TokenStore.connect(settings).create("victor", Role.VIEWER, now=NOW).secret)


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    """The API served by a real uvicorn on a free port; yields its base URL."""
    yield from serve_in_thread(create_app(settings))


def serve_in_thread(app: object) -> Iterator[str]:
    import threading

    import uvicorn

    from tests.receivers import free_port, wait_until

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                       timeout_graceful_shutdown=1)
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "uvicorn to start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
