"""The chaos suite: real processes killed with SIGKILL, a real Redis server killed and
started again, on namespaces of their own; each case bounded in time. Select it with
``pytest -m chaos``; ``python benchmarks/chaos.py`` prints the same scenarios' figures
(with more kills). A case restarts real Python processes, a few seconds each on a busy
2-core machine: that, not waiting, is what the engine and session cases spend."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.chaos import scenarios

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]


def test_engine_killed_at_random_points_keeps_its_ledger_and_never_orders_twice(
    qt_env: dict[str, str], client: redis.Redis, tmp_path: Path
) -> None:
    result = scenarios.engine_kills(qt_env, client, tmp_path, kills=2, seed=1)

    assert result.problems == []
    assert result.survived == result.kills == 2
    assert result.duplicate_orders == 0
    assert len(result.resume_s) == 2


def test_a_killed_bus_consumer_loses_no_event(
    qt_env: dict[str, str], client: redis.Redis, tmp_path: Path
) -> None:
    result = scenarios.consumer_kills(qt_env, client, tmp_path, events=2000, kills=3, seed=1)

    assert result.problems == []
    assert result.events_lost == 0
    assert result.survived == result.kills == 3


def test_redis_killed_mid_run_means_no_order_while_down_and_trading_after(
    qt_env: dict[str, str], tmp_path: Path
) -> None:
    result = scenarios.redis_outage(qt_env, tmp_path, down_s=2.0)

    assert result.problems == []
    assert result.orders_while_down == 0
    assert len(result.resume_s) == 1


def test_a_killed_session_is_followed_by_one_that_trades_within_the_lease_ttl(
    qt_env: dict[str, str], client: redis.Redis, tmp_path: Path
) -> None:
    result = scenarios.session_takeover(qt_env, client, tmp_path, lease_ttl_s=3.0)

    assert result.problems == []
    assert result.survived == result.kills == 2


def test_the_demo_clears_only_its_own_namespace(
    qt_env: dict[str, str], client: redis.Redis
) -> None:
    result = scenarios.demo_isolation(qt_env, client)

    assert result.problems == []
