"""EventBus publish on Redis, pipelined, against raw redis-py pipelined XADD of the same
fields in the same run. Target: the bus reaches >= 50% of the raw rate.

    python benchmarks/bench_bus_publish.py [--json]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Figure, raw_client, report, scratch_settings
from components.events import BusConfig, Event, RedisEventBus, encode_event

EVENTS = 50_000
BATCH = 500


def make_events(n: int) -> list[Event]:
    return [
        Event.create(
            "trade.executed",
            {
                "client_order_id": f"o{i}",
                "symbol": "BTC/USDT",
                "side": "buy",
                "quantity": 0.1,
                "price": 50_000 + i,
                "fee": 0.5,
                "strategy": "momentum",
            },
            source="bench",
        )
        for i in range(n)
    ]


def main() -> int:
    events = make_events(EVENTS)
    with scratch_settings() as settings:
        client = raw_client(settings)
        fields = [encode_event(e) for e in events]
        raw_key = f"{settings.namespace}:raw"
        start = time.perf_counter()
        for i in range(0, EVENTS, BATCH):
            pipe = client.pipeline(transaction=False)
            for f in fields[i : i + BATCH]:
                pipe.xadd(raw_key, f, maxlen=1_000_000, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
        raw_rate = EVENTS / (time.perf_counter() - start)

        bus = RedisEventBus(
            client, namespace=settings.namespace, config=BusConfig(stream_maxlen=1_000_000)
        )
        start = time.perf_counter()
        for i in range(0, EVENTS, BATCH):
            bus.publish_many(events[i : i + BATCH])
        bus_rate = EVENTS / (time.perf_counter() - start)
        assert bus.stats().published == EVENTS

    ratio = bus_rate / raw_rate
    return report(
        [
            Figure("raw redis-py pipelined XADD", raw_rate, "events/s", "anchor", True),
            Figure(
                "EventBus.publish_many (pipelined)",
                bus_rate,
                "events/s",
                ">= 50% of raw XADD",
                ratio >= 0.5,
                anchor=f"{ratio:.0%} of raw XADD",
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
