"""Integration tests run flows under a real Prefect server (Prefect's test harness, one
per session: a real API with its database, started once, ~20 s) against real Redis."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from components.engine import read_heartbeat
from components.engine.lease import EngineLease
from tests.invariants import ledger_violations

T = TypeVar("T")


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# Research flows shrunk to seconds, for tests that run every deployment.
SMALL_RESEARCH = {
    "QT_EVOLUTION_POPULATION": "4",
    "QT_EVOLUTION_GENERATIONS": "1",
    "QT_EVOLUTION_HISTORY_BARS": "500",
    "QT_EVOLUTION_SYMBOLS": "1",
    "QT_CLM_HISTORY_BARS": "500",
    "QT_CLM_TRAIN_BARS": "200",
    "QT_CLM_EVAL_BARS": "50",
}


def wait_until(what: str, done: Callable[[], T | None], timeout_s: float) -> T:
    """Poll ``done()`` every second until it returns something truthy; fail after
    ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not (result := done()):
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(1)
    return result


def trading_session(client: redis.Redis, namespace: str, after: datetime) -> str | None:
    """The engine session holding the lease, once a cycle ran after ``after``."""
    holder = EngineLease(client, namespace=namespace).holder()
    beat = read_heartbeat(client, namespace)
    if holder is None or beat is None or beat["at"] <= after:
        return None
    return holder.session


def assert_ledger_consistent(client: redis.Redis, namespace: str) -> None:
    """No client order id filled twice; fills, events, cash and positions agree."""
    assert ledger_violations(client, namespace) == []


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
