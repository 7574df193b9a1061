"""The stream layout lives in one module: every script that publishes uses its helper."""

from __future__ import annotations

import re
from pathlib import Path

import redis

from components.events import (
    LUA_EMIT,
    Event,
    InMemoryEventBus,
    RedisEventBus,
    decode_event,
    event_args,
    stats_key,
    stream_key,
)
from components.events.streams import EVENT_FIELDS
from components.policy import PolicyStore

COMPONENTS = Path(__file__).resolve().parents[3] / "components"


def test_no_script_outside_the_streams_module_spells_out_an_xadd() -> None:
    offenders = [
        str(path.relative_to(COMPONENTS))
        for path in COMPONENTS.rglob("*.py")
        if path.name != "streams.py" and re.search(r"redis\.call\(\s*'XADD'", path.read_text())
    ]
    assert offenders == []


def test_an_event_a_script_emits_reads_back_as_the_event(
    client: redis.Redis, namespace: str
) -> None:
    event = Event.create(
        "ess.state_changed",
        {"state": "HALTED", "previous": "ACTIVE", "reason": "test", "by": "ops"},
        source="ops",
        correlation_id="c1",
    )
    script = client.register_script(LUA_EMIT + "emit_event(KEYS[1], KEYS[2], unpack(ARGV))")
    stream = stream_key(namespace, event.type)
    script(keys=[stream, stats_key(namespace)], args=event_args(event, 100))
    ((_, fields),) = client.xrange(stream)
    assert list(fields) == list(EVENT_FIELDS)
    assert decode_event(fields) == event
    bus = RedisEventBus(client, namespace=namespace)
    assert bus.stats().published == 1
    assert bus.tail(event.type) == [event]


def test_in_memory_subscribers_see_what_a_policy_script_wrote(
    client: redis.Redis, namespace: str
) -> None:
    bus = InMemoryEventBus()
    seen: list[Event] = []
    bus.subscribe("policy.updated", seen.append, group="test")
    store = PolicyStore(client, namespace=namespace, bus=bus)
    store.patch({"max_positions": 4}, by="ops", reason="fewer bets")
    bus.poll()
    assert [e.payload.version for e in seen] == [1]  # type: ignore[attr-defined]
    assert seen == RedisEventBus(client, namespace=namespace).tail("policy.updated")
