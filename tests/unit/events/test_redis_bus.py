"""What only the Redis bus does: survive consumers that die, across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import redis

from components.events import BusConfig, Event, RedisEventBus, stream_key
from components.settings import Settings
from tests.builders import ess_event
from tests.unit.events.test_bus_contract import drain

FAST = BusConfig(retry_backoff_ms=1, max_retries=2, claim_idle_ms=200, block_ms=20)

DOOMED_CONSUMER = textwrap.dedent(
    """
    import os, signal
    from components.events import BusConfig, RedisEventBus
    from components.redis import connect
    from components.settings import load_settings

    settings = load_settings()
    bus = RedisEventBus(connect(settings), namespace=settings.namespace, consumer="doomed")

    def die(event):
        os.kill(os.getpid(), signal.SIGKILL)  # holding every event it read, none acked

    bus.subscribe("ess.state_changed", die, group="workers")
    print("ready", flush=True)
    bus.run()
    """
)


def test_events_of_a_consumer_that_died_are_delivered_to_another(
    client: redis.Redis, settings: Settings, qt_env: dict[str, str]
) -> None:
    survivor = RedisEventBus(client, namespace=settings.namespace, config=FAST, consumer="alive")
    received: list[str] = []
    survivor.subscribe("ess.state_changed", lambda e: received.append(e.id), group="workers")
    events = [ess_event(f"r{n}") for n in range(3)]
    survivor.publish_many(events)  # waiting in the group before the doomed one starts,
    child = subprocess.Popen(  # so its first read takes all three
        [sys.executable, "-c", DOOMED_CONSUMER], env=qt_env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    assert child.wait(timeout=30) == -9
    stream = stream_key(settings.namespace, "ess.state_changed")
    assert client.xpending(stream, "workers")["pending"] == 3  # held by the dead consumer

    drain(survivor, lambda: len(received) == 3)

    assert received == [e.id for e in events]
    assert client.xpending(stream, "workers")["pending"] == 0
    assert survivor.stats().delivered == 3


def test_event_that_keeps_killing_consumers_is_dead_lettered_without_running_again(
    client: redis.Redis, settings: Settings
) -> None:
    survivor = RedisEventBus(client, namespace=settings.namespace, config=FAST, consumer="alive")
    calls: list[Event] = []
    survivor.subscribe("ess.state_changed", calls.append, group="workers")
    survivor.publish(ess_event("poison"))
    stream = stream_key(settings.namespace, "ess.state_changed")
    # three consumers took it in turn and died without acking (each delivery is counted)
    ((entry_id, _),) = client.xreadgroup("workers", "c1", {stream: ">"})[0][1]
    for consumer in ("c2", "c3"):
        client.xclaim(stream, "workers", consumer, 0, [entry_id])

    drain(survivor, lambda: survivor.stats().dead_lettered == 1)

    assert calls == []
    (letter,) = survivor.dead_letters()
    assert letter["dl_attempts"] == "3"
    assert client.xpending(stream, "workers")["pending"] == 0


def test_streams_are_trimmed_to_about_their_maximum_length(
    client: redis.Redis, settings: Settings
) -> None:
    bus = RedisEventBus(client, namespace=settings.namespace, config=BusConfig(stream_maxlen=100))
    bus.publish_many([ess_event(str(n)) for n in range(2000)])
    length = client.xlen(stream_key(settings.namespace, "ess.state_changed"))
    assert 100 <= length < 400
    assert bus.stats().published == 2000


def test_lag_counts_what_a_group_has_not_acknowledged(
    client: redis.Redis, settings: Settings
) -> None:
    bus = RedisEventBus(client, namespace=settings.namespace, config=FAST)
    bus.subscribe("ess.state_changed", lambda e: None, group="slow")
    bus.publish_many([ess_event(str(n)) for n in range(7)])
    stats = bus.stats()
    assert stats.lag == 7
    assert stats.groups["slow"].lag == 7
    drain(bus, lambda: bus.stats().lag == 0)


def test_follow_yields_events_published_after_it_started(
    client: redis.Redis, settings: Settings
) -> None:
    bus = RedisEventBus(client, namespace=settings.namespace, config=FAST)
    bus.publish(ess_event("old"))
    follower = bus.follow("ess.state_changed", block_ms=20)
    new = [ess_event("new"), ess_event("newer")]
    bus.publish_many(new)
    assert [next(follower).id, next(follower).id] == [e.id for e in new]


def test_a_group_created_from_the_start_sees_events_published_before_it(
    client: redis.Redis, settings: Settings
) -> None:
    bus = RedisEventBus(client, namespace=settings.namespace, config=FAST)
    early = ess_event("before the group")
    bus.publish(early)
    seen: list[str] = []
    bus.subscribe("ess.state_changed", lambda e: seen.append(e.id), group="late",
                  from_start=True)  # fmt: skip
    bus.subscribe("ess.state_changed", lambda e: None, group="now")
    drain(bus, lambda: seen == [early.id])
    assert bus.stats().groups["now"].lag == 0
