"""An EventBus consumer to be killed: ``python -m tests.chaos.consumer GROUP EVENT_TYPE``.

Counts each event it handles in ``<ns>:chaos:handled`` (event id -> deliveries), then
acknowledges it as the bus does: at least once. A few milliseconds per event, so a kill
lands in the middle of a batch. Settings (and ``QT_BUS__CLAIM_IDLE_MS``) come from ``QT_*``.
"""

from __future__ import annotations

import sys
import time

from components.events import Event, RedisEventBus
from components.redis import namespaced
from components.settings import load_settings


def main() -> None:
    group, event_type = sys.argv[1], sys.argv[2]
    settings = load_settings()
    bus = RedisEventBus.connect(settings)
    handled = namespaced(settings.namespace, "chaos", "handled")

    def handle(event: Event) -> None:
        bus.client.hincrby(handled, event.id, 1)
        time.sleep(0.002)

    bus.subscribe(event_type, handle, group=group, from_start=True)
    print("ready", flush=True)
    bus.run()


if __name__ == "__main__":
    main()
