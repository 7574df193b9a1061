"""Namespaces cannot touch each other: names, one prefix, shadows inside, ACL users."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from components.engine import build_engine
from components.engine.shadow import shadow_namespace
from components.errors import ConfigurationError
from components.events import Event, RedisEventBus
from components.market import ManualClock, SyntheticMarket
from components.namespaces import check_namespace, create_namespace_user, delete_namespace_user
from components.policy import PolicyStore
from components.redis import connect, delete_namespace
from components.risk import EmergencyStop
from components.settings import Settings, load_settings
from deployments.demo import claim_namespace
from tests.builders import T0


@pytest.mark.parametrize("name", ["x.prod", "a:b", "a*", "a?", "[a]", "a b", "", "n" * 65, "é"])
def test_a_namespace_with_a_separator_or_glob_character_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="letters, digits"):
        check_namespace(name)
    with pytest.raises(ConfigurationError, match="QT_NAMESPACE"):
        load_settings(namespace=name)


@pytest.mark.parametrize("name", ["qt", "paper-1", "Acct_2", "n" * 64])
def test_letters_digits_dash_and_underscore_make_a_namespace(name: str) -> None:
    assert load_settings(namespace=name).namespace == name


def test_shadow_accounts_live_inside_their_owners_namespace(namespace: str) -> None:
    assert shadow_namespace(namespace, "breakout").startswith(f"{namespace}:")


def test_deleting_a_namespace_deletes_its_keys_and_no_other(
    client: redis.Redis, namespace: str
) -> None:
    mine = [f"{namespace}:policy", f"{shadow_namespace(namespace, 'breakout')}:ledger:account"]
    others = [f"{namespace}.prod:policy", f"{namespace}-prod:policy", f"{namespace}x:policy"]
    for key in mine + others:
        client.set(key, "1")
    try:
        assert delete_namespace(client, namespace) == 2
        assert [client.exists(k) for k in mine + others] == [0, 0, 1, 1, 1]
    finally:
        client.delete(*others)


def test_demo_in_an_empty_namespace_leaves_a_neighbours_halted_ess_alone(
    client: redis.Redis, settings: Settings
) -> None:
    neighbours = [f"{settings.namespace}.prod", f"{settings.namespace}-prod"]
    for neighbour in neighbours:  # the first was the bug's shape: a name with a dot
        EmergencyStop(client, namespace=neighbour).halt("exchange outage", by="ops")
    try:
        claim_namespace(settings)
        for neighbour in neighbours:
            assert EmergencyStop(client, namespace=neighbour).status().state == "HALTED"
    finally:
        for neighbour in neighbours:
            client.delete(f"{neighbour}:ess", f"{neighbour}:events:ess.state_changed")
        client.delete(f"{settings.namespace}.prod:events:stats")


def test_demo_refuses_a_namespace_holding_data_it_did_not_write(
    client: redis.Redis, settings: Settings
) -> None:
    client.set(f"{settings.namespace}:policy", "{}")
    with pytest.raises(ConfigurationError, match="holds data the demo did not write"):
        claim_namespace(settings)
    assert client.exists(f"{settings.namespace}:policy")


# --- a Redis ACL user per namespace -----------------------------------------------------
@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def other(admin: redis.Redis) -> Iterator[str]:
    """Another namespace on the same server, holding a policy, an event and a hash."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    PolicyStore(admin, namespace=name).patch({"max_positions": 3}, by="tests", reason="data")
    admin.hset(f"{name}:secret", "api_key", "s3cr3t")
    yield name
    delete_namespace(admin, name)


@pytest.fixture
def confined(admin: redis.Redis, redis_url: str, namespace: str) -> Iterator[redis.Redis]:
    """A client logged in as ``namespace``'s ACL user."""
    user = create_namespace_user(admin, namespace)
    client = redis.Redis.from_url(user.url(redis_url), decode_responses=True)
    yield client
    client.close()
    delete_namespace_user(admin, namespace)


def test_a_namespace_user_reads_and_writes_its_own_namespace(
    confined: redis.Redis, namespace: str
) -> None:
    store = PolicyStore(confined, namespace=namespace)
    assert store.patch({"max_positions": 4}, by="tests", reason="own").version == 1
    bus = RedisEventBus(confined, namespace=namespace)
    bus.publish(Event.create("health.status_changed", {"status": "HEALTHY"}, source="t"))
    assert len(bus.tail("health.status_changed")) == 1


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "{other}:policy"),
        ("HGETALL", "{other}:secret"),
        ("XRANGE", "{other}:events:policy.updated", "-", "+"),
        ("EVAL", "return redis.call('HGETALL', KEYS[1])", "1", "{other}:secret"),
        ("EVAL", "return redis.call('HGETALL', '{other}:secret')", "0"),
        ("SCAN", "0", "MATCH", "{other}:*"),
        ("RANDOMKEY",),
        ("KEYS", "{other}:*"),
        ("DEL", "{other}:secret"),
        ("FLUSHALL",),
        ("PUBLISH", "{other}:events", "x"),
        ("ACL", "SETUSER", "intruder", "on", "+@all", "~*"),
    ],
)
def test_a_namespace_user_cannot_reach_another_namespace(
    confined: redis.Redis, admin: redis.Redis, other: str, command: tuple[str, ...]
) -> None:
    with pytest.raises(redis.ResponseError, match=r"permission|can't access"):
        confined.execute_command(*(part.format(other=other) for part in command))
    assert admin.hget(f"{other}:secret", "api_key") == "s3cr3t"
    assert PolicyStore(admin, namespace=other).get().max_positions == 3


def test_the_engine_keeps_every_key_under_its_prefix_as_a_namespace_user(
    admin: redis.Redis, redis_url: str, settings: Settings
) -> None:
    user = create_namespace_user(admin, settings.namespace)
    try:
        own = settings.model_copy(
            update={"redis_url": load_settings(redis_url=user.url(redis_url)).redis_url}
        )
        clock = ManualClock(T0.replace(month=3, day=2))
        market = SyntheticMarket(seed=7, clock=clock)
        PolicyStore.connect(own).patch(
            {
                "active_universe": market.symbols()[:6],
                "global_min_confidence": 0.5,
                "strategy_states": {"breakout": "shadow"},
            },
            by="tests",
            reason="trade, and trade a shadow",
        )
        engine = build_engine(own, market, bus=RedisEventBus.connect(own))
        assert connect(own).acl_whoami() == user.username
        reports = []
        for n in range(30):  # any key outside the prefix would be refused (NOPERM)
            reports.append(engine.run_cycle(n))
            clock.advance(timedelta(minutes=5))
        assert [o for r in reports for o in r.orders if o.outcome == "submitted"]
        assert sum(r.shadow_orders for r in reports) > 0
    finally:
        delete_namespace_user(admin, settings.namespace)


def test_namespace_create_writes_a_url_that_reaches_that_namespace_only(
    qt_env: dict[str, str], admin: redis.Redis, redis_url: str, tmp_path: Path, other: str
) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    env_file = tmp_path / "acct.env"
    command = [sys.executable, "-m", "deployments.cli", "namespace", "create", name]
    try:
        done = subprocess.run(
            [*command, "--env-file", str(env_file)], env=qt_env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        values = dict(
            line.split("=", 1)
            for line in env_file.read_text().splitlines()
            if "=" in line and not line.startswith("#")
        )
        assert values["QT_NAMESPACE"] == name
        assert values["QT_REDIS_URL"].split("@", 1)[0].rsplit(":", 1)[1] not in done.stdout
        client = redis.Redis.from_url(values["QT_REDIS_URL"], decode_responses=True)
        client.set(f"{name}:k", "v")
        with pytest.raises(redis.ResponseError, match="permission"):
            client.hgetall(f"{other}:secret")
        client.close()

        bad = subprocess.run([*command[:-1], "x.prod"], env=qt_env, capture_output=True, text=True)
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1 and "letters, digits" in bad.stderr
    finally:
        delete_namespace_user(admin, name)
        delete_namespace(admin, name)


def test_demo_as_a_namespace_user_says_in_one_line_what_it_needs(
    admin: redis.Redis, redis_url: str, settings: Settings
) -> None:
    user = create_namespace_user(admin, settings.namespace)
    try:
        confined = load_settings(redis_url=user.url(redis_url), namespace=settings.namespace)
        with pytest.raises(ConfigurationError, match="server's own user"):
            claim_namespace(confined)
    finally:
        delete_namespace_user(admin, settings.namespace)
