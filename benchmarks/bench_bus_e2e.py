"""EventBus end to end on Redis: publish (another process) -> handler -> ack.

1. Throughput: a publisher process sends 50,000 events pipelined; the consumer's handler
   sees them all. Target >= 10,000 events/s.
2. Latency at 1,000 events/s: the publisher sends one event a millisecond for 5 s; each
   handler call measures now - occurred_at. Target p99 < 5 ms.
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


def publish_paced(settings: Settings, rate: int, seconds: int) -> None:
    bus = RedisEventBus(connect(settings), namespace=settings.namespace)
    interval = 1 / rate
    start = time.perf_counter()
    for n in range(rate * seconds):
        due = start + n * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)  # sleep, not spin: a spinning publisher steals a core from Redis
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
                "< 5 ms",
                p99 < 5,
                anchor=f"p50 {p50:.2f} ms",
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
