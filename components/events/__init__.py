"""The EventBus: typed events on Redis Streams (or in memory), with mirrors.

bus = RedisEventBus.connect(settings)
bus.subscribe("policy.updated", handler, group="orchestrator")
bus.publish(Event.create("policy.updated", {...}, source="ops"))
bus.run(stop)
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports
from components.events import types  # registers every event type's payload model

if TYPE_CHECKING:
    from components.events.bus import (
        ALL_TYPES,
        BusConfig,
        BusStats,
        EventBus,
        GroupStats,
        Handler,
        Mirror,
    )
    from components.events.memory_bus import InMemoryEventBus
    from components.events.models import (
        Event,
        event_to_json,
        event_types,
        payload_model,
        register_event_type,
    )
    from components.events.redis_bus import RedisEventBus
    from components.events.streams import (
        LUA_EMIT,
        add_events,
        dead_letter_key,
        decode_event,
        encode_event,
        entry_fields,
        event_args,
        stats_key,
        stream_key,
    )


__all__ = [
    "ALL_TYPES",
    "LUA_EMIT",
    "BusConfig",
    "BusStats",
    "Event",
    "EventBus",
    "GroupStats",
    "Handler",
    "InMemoryEventBus",
    "Mirror",
    "RedisEventBus",
    "add_events",
    "dead_letter_key",
    "decode_event",
    "encode_event",
    "entry_fields",
    "event_args",
    "event_to_json",
    "event_types",
    "payload_model",
    "register_event_type",
    "stats_key",
    "stream_key",
    "types",
]

__getattr__ = lazy_exports(__name__, ("models", "streams", "bus", "memory_bus", "redis_bus"))
