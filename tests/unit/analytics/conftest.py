"""Fixtures of the analytics tests: an Analytics and a fast RedisEventBus on this test's own
namespace of the real test Redis server (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from components.analytics import Analytics
from components.events import BusConfig, RedisEventBus

FAST = BusConfig(retry_backoff_ms=1, max_retries=2, claim_idle_ms=50, block_ms=10)


@pytest.fixture
def analytics(client: redis.Redis, namespace: str) -> Analytics:
    return Analytics(client, namespace=namespace)


@pytest.fixture
def bus(client: redis.Redis, namespace: str) -> Iterator[RedisEventBus]:
    yield RedisEventBus(client, namespace=namespace, config=FAST, consumer="analytics-1")
