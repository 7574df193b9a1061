"""EventBus end to end on Redis: publish (another process) -> handler -> ack.

1. Throughput: a publisher process sends 50,000 events pipelined; the consumer's handler
   sees them all. Target >= 10,000 events/s.
2. Latency at 1,000 events/s: the publisher sends one event a millisecond for 5 s; each
   handler call measures now - occurred_at. Target p99 < 2 ms. Anchor, in the same run:
   the same pacing through raw redis-py (XADD of a timestamp; XREADGROUP, XACK), the
   floor this machine and this Redis allow.
3. In-memory bus: publish + deliver 200,000 events in one process. Target >= 100,000/s;
   anchor: asyncio.Queue put/get in the same run.

    python benchmarks/bench_bus_e2e.py [--json]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_bus_publish import make_events
from benchmarks.common import Figure, percentile, report, scratch_settings
from components.events import (
    BusConfig,
    Event,
    InMemoryEventBus,
    RedisEventBus,
)
from components.redis import connect
from components.settings import Settings

THROUGHPUT_EVENTS = 50_000
PACED_RATE = 1_000
PACED_SECONDS = 5
MEMORY_EVENTS = 200_000


def publish_burst(settings: Settings, count: int, started: Any) -> None:
    bus = RedisEventBus(connect(settings), namespace=settings.namespace)
    events = make_events(count)
    started.value = time.time()
    for i in range(0, count, 500):
        bus.publish_many(events[i : i + 500])


def pace(rate: int, seconds: int) -> Any:
    """Yield ``rate * seconds`` times, one every ``1 / rate`` s (sleeping, not spinning:
    a spinning publisher steals a core from Redis)."""
    interval = 1 / rate
    start = time.perf_counter()
    for n in range(rate * seconds):
        due = start + n * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        yield n


def raw_publish_paced(settings: Settings, stream: str, rate: int, seconds: int) -> None:
    client = connect(settings)
    for n in pace(rate, seconds):
        client.xadd(stream, {"at": repr(time.time()), "n": n}, maxlen=10_000, approximate=True)


def raw_latencies(settings: Settings, context: Any) -> list[float]:
    """The anchor: paced XADDs read by XREADGROUP and acked by XACK, nothing else."""
    client = connect(settings)
    stream = f"{settings.namespace}:bench:raw"
    client.xgroup_create(stream, "raw", id="$", mkstream=True)
    publisher = context.Process(
        target=raw_publish_paced, args=(settings, stream, PACED_RATE, PACED_SECONDS)
    )
    publisher.start()
    latencies: list[float] = []
    deadline = time.monotonic() + 120
    while len(latencies) < PACED_RATE * PACED_SECONDS and time.monotonic() < deadline:
        response = client.xreadgroup("raw", "c", {stream: ">"}, count=1000, block=50)
        for _, entries in response or ():
            now = time.time()
            latencies += [(now - float(fields["at"])) * 1000 for _, fields in entries]
            client.xack(stream, "raw", *(entry_id for entry_id, _ in entries))
    publisher.join()
    return latencies


def publish_paced(settings: Settings, rate: int, seconds: int) -> None:
    bus = RedisEventBus(connect(settings), namespace=settings.namespace)
    for n in pace(rate, seconds):
        bus.publish(
            Event.create(
                "ess.state_changed",
                {"state": "ACTIVE", "reason": str(n), "by": "bench"},
                source="bench",
                occurred_at=datetime.now(UTC),
            )
        )


class Consumer:
    """One consumer group on its own connection, counting handler calls."""

    def __init__(
        self, settings: Settings, group: str, expected: int, on_event: Callable[[Event], None]
    ) -> None:
        config = BusConfig(batch_size=1000, block_ms=50)
        self.bus = RedisEventBus(connect(settings), namespace=settings.namespace, config=config)
        self.expected, self.seen, self.on_event = expected, 0, on_event
        for event_type in ("trade.executed", "ess.state_changed"):
            self.bus.subscribe(event_type, self.handle, group=group)

    def handle(self, event: Event) -> None:
        self.on_event(event)
        self.seen += 1

    def run(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.seen < self.expected:
            if time.monotonic() > deadline:
                raise SystemExit(f"consumer saw {self.seen} of {self.expected} events in time")
            self.bus.poll(block_ms=50)


def memory_rates() -> tuple[float, float]:
    bus = InMemoryEventBus(BusConfig(stream_maxlen=1000))
    count = 0

    def handler(event: Event) -> None:
        nonlocal count
        count += 1

    bus.subscribe("trade.executed", handler, group="bench")
    events = make_events(1000) * (MEMORY_EVENTS // 1000)
    start = time.perf_counter()
    for i in range(0, MEMORY_EVENTS, 1000):
        for event in events[i : i + 1000]:
            bus.publish(event)
        bus.poll()
    memory_rate = MEMORY_EVENTS / (time.perf_counter() - start)
    assert count == MEMORY_EVENTS

    async def queue_rate() -> float:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        start = time.perf_counter()
        for i in range(0, MEMORY_EVENTS, 1000):
            for event in events[i : i + 1000]:
                queue.put_nowait(event)
            while not queue.empty():
                queue.get_nowait()
        return MEMORY_EVENTS / (time.perf_counter() - start)

    return memory_rate, asyncio.run(queue_rate())


def main() -> int:
    context = multiprocessing.get_context("spawn")
    with scratch_settings() as settings:
        # 1. throughput
        consumer = Consumer(settings, "throughput", THROUGHPUT_EVENTS, lambda e: None)
        started = context.Value("d", 0.0)
        publisher = context.Process(
            target=publish_burst, args=(settings, THROUGHPUT_EVENTS, started)
        )
        publisher.start()
        consumer.run(timeout_s=120)
        # from the publisher's first send to the last handler call
        throughput = THROUGHPUT_EVENTS / (time.time() - started.value)
        publisher.join()
        assert consumer.bus.stats().groups["throughput"].lag == 0

        # 2. latency at 1,000 events/s
        latencies: list[float] = []

        def measure(event: Event) -> None:
            latencies.append((datetime.now(UTC) - event.occurred_at).total_seconds() * 1000)

        total = PACED_RATE * PACED_SECONDS
        consumer = Consumer(settings, "latency", total, measure)
        publisher = context.Process(
            target=publish_paced, args=(settings, PACED_RATE, PACED_SECONDS)
        )
        publisher.start()
        consumer.run(timeout_s=120)
        publisher.join()
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        raw = raw_latencies(settings, context)
        raw_p50, raw_p99 = percentile(raw, 50), percentile(raw, 99)

    memory_rate, queue_rate = memory_rates()
    return report(
        [
            Figure(
                "EventBus end to end (publish -> handler -> ack)",
                throughput,
                "events/s",
                ">= 10,000 events/s",
                throughput >= 10_000,
                anchor="seed: < 5 ms",
            ),
            Figure(
                f"EventBus latency p99 at {PACED_RATE:,} events/s",
                p99,
                "ms",
                "< 2 ms",
                p99 < 2,
                anchor=f"p50 {p50:.2f} ms; raw redis-py XADD/XREADGROUP/XACK in the same "
                f"run: p99 {raw_p99:.2f} ms, p50 {raw_p50:.2f} ms",
            ),
            Figure(
                "InMemoryEventBus publish + deliver",
                memory_rate,
                "events/s",
                ">= 100,000 events/s",
                memory_rate >= 100_000,
                anchor=f"asyncio.Queue {queue_rate:,.0f} events/s in the same run",
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
