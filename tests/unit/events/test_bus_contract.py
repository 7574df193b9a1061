"""The rules both buses keep, run against each: in memory, and on a real Redis server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from components.events import BusConfig, Event, EventBus, InMemoryEventBus, RedisEventBus
from components.settings import Settings
from tests.builders import ess_event

FAST = BusConfig(retry_backoff_ms=1, max_retries=2, claim_idle_ms=50, block_ms=20)


@pytest.fixture(params=["memory", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[EventBus]:
    if request.param == "memory":
        yield InMemoryEventBus(FAST)
        return
    client: redis.Redis = request.getfixturevalue("client")
    settings: Settings = request.getfixturevalue("settings")
    yield RedisEventBus(client, namespace=settings.namespace, config=FAST)


def drain(bus: EventBus, until: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll until ``until()`` holds; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        bus.poll(block_ms=10)


def test_each_group_gets_each_event_once(bus: EventBus) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}
    bus.subscribe("ess.state_changed", lambda e: seen["a"].append(e.id), group="a")
    bus.subscribe("*", lambda e: seen["b"].append(e.id), group="b")
    events = [ess_event(f"r{n}") for n in range(5)]
    bus.publish_many(events)
    drain(bus, lambda: len(seen["a"]) == 5 and len(seen["b"]) == 5)
    assert seen["a"] == seen["b"] == [e.id for e in events]
    assert bus.poll() == 0
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.lag) == (5, 10, 0)


def test_handler_exception_never_stops_the_loop_and_is_retried(bus: EventBus) -> None:
    calls: list[str] = []

    def flaky(event: Event) -> None:
        calls.append(event.payload.reason)  # type: ignore[attr-defined]
        if event.payload.reason == "flaky" and calls.count("flaky") < 2:  # type: ignore[attr-defined]
            raise RuntimeError("transient")

    bus.subscribe("ess.state_changed", flaky, group="g")
    bus.publish_many([ess_event("flaky"), ess_event("fine")])
    drain(bus, lambda: calls.count("flaky") == 2 and "fine" in calls)
    stats = bus.stats()
    assert (stats.delivered, stats.failed, stats.dead_lettered) == (2, 1, 0)


def test_event_failing_every_retry_goes_to_the_dead_letter_stream(bus: EventBus) -> None:
    attempts: list[str] = []

    def broken(event: Event) -> None:
        attempts.append(event.id)
        raise ValueError("cannot handle")

    bus.subscribe("ess.state_changed", broken, group="g")
    bus.publish(ess_event("poison"))
    drain(bus, lambda: bus.stats().dead_lettered == 1)
    assert len(attempts) == FAST.max_retries + 1
    stats = bus.stats()
    assert (stats.failed, stats.lag) == (FAST.max_retries + 1, 0)
    if isinstance(bus, RedisEventBus):
        (letter,) = bus.dead_letters()
        assert letter["dl_group"] == "g"
        assert letter["dl_error"] == "ValueError: cannot handle"
        assert letter["dl_attempts"] == str(FAST.max_retries + 1)
    else:
        assert isinstance(bus, InMemoryEventBus)
        assert bus.dead_letters[0][3] == "ValueError: cannot handle"


def test_failing_mirror_never_fails_a_publish(bus: EventBus) -> None:
    mirrored: list[str] = []
    bus.add_mirror(lambda e: mirrored.append(e.id))

    def broken_mirror(event: Event) -> None:
        raise ConnectionError("prefect is down")

    bus.add_mirror(broken_mirror)
    event = ess_event()
    bus.publish(event)
    assert mirrored == [event.id]
    assert bus.tail(count=1)[0].id == event.id
    assert bus.stats().mirror_failures == 1


def test_tail_gives_the_last_events_newest_last(bus: EventBus) -> None:
    events = [ess_event(f"r{n}") for n in range(6)]
    bus.publish_many(events)
    assert [e.id for e in bus.tail(count=3)] == [e.id for e in events[-3:]]
    assert [e.id for e in bus.tail("ess.state_changed", count=10)] == [e.id for e in events]
    assert bus.tail("policy.updated") == []


def test_unknown_type_is_rejected_before_anything_is_stored(bus: EventBus) -> None:
    with pytest.raises(Exception, match="unknown event type"):
        bus.subscribe("nope", lambda e: None, group="g")
    fake = ess_event().model_copy(update={"type": "nope"})
    with pytest.raises(Exception, match="unknown event type"):
        bus.publish_many([ess_event(), fake])
    assert bus.stats().published == 0


def test_run_consumes_until_stopped(bus: EventBus) -> None:
    stop = threading.Event()
    received = threading.Event()
    bus.subscribe("ess.state_changed", lambda e: received.set(), group="g")
    runner = threading.Thread(target=bus.run, args=(stop,))
    runner.start()
    bus.publish(ess_event())
    assert received.wait(10)
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
