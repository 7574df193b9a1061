"""Where events live on Redis and how they are written: the one place that knows.

Keys (under the namespace ``ns``)::

    ns:events:<type>        one stream per event type, trimmed to ~maxlen entries
                            (approximate MAXLEN, ``BusConfig.stream_maxlen``)
    ns:events:deadletter    events a group gave up on, with the group, error and attempts
    ns:events:stats         counters shared by every process: published, delivered, ...,
                            and dead_lettered:<type> per event type

An entry's fields are :data:`EVENT_FIELDS` (:func:`encode_event` / :func:`decode_event`);
every write of an event adds one to ``published``. The bus publishes through
:data:`LUA_PUBLISH` (any number of events in one call); :func:`add_events` queues them on a
pipeline a caller makes part of its own transaction; a Lua script that must
change its state and publish in one step includes :data:`LUA_EMIT` and calls
``emit_event(stream, stats, maxlen, id, type, source, at, cid, payload)`` with the parts
:func:`event_args` gives, so no script spells out the layout itself::

    fields = event_args(event, maxlen)   # ARGV tail for the script's emit_event(...)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from components.errors import DataError
from components.events.models import Event, first_error, payload_model
from components.redis import namespaced

EVENT_FIELDS = ("id", "type", "source", "at", "cid", "payload")
"""The fields of a stream entry, in this order."""


def stream_key(namespace: str, event_type: str) -> str:
    """The stream that holds events of ``event_type``."""
    return namespaced(namespace, "events", event_type)


def dead_letter_key(namespace: str) -> str:
    """The dead-letter stream of ``namespace``."""
    return namespaced(namespace, "events", "deadletter")


def stats_key(namespace: str) -> str:
    """The hash of bus counters of ``namespace``."""
    return namespaced(namespace, "events", "stats")


def entry_fields(
    event_id: str,
    event_type: str,
    *,
    source: str,
    at: str,
    payload: str,
    correlation_id: str | None = None,
) -> dict[str, str]:
    """The stream fields of an event given as its stored parts (``at`` ISO text,
    ``payload`` JSON text), for a writer that has them already; ``decode_event`` of them
    is the event a script wrote from those parts (e.g. to hand it to the bus)."""
    return {"id": event_id, "type": event_type, "source": source, "at": at,
            "cid": correlation_id or "", "payload": payload}  # fmt: skip


def encode_event(event: Event) -> dict[str, str]:
    """The flat string fields an event is stored as on a stream (:data:`EVENT_FIELDS`)."""
    return entry_fields(
        event.id,
        event.type,
        source=event.source,
        at=event.occurred_at.isoformat(),
        payload=event.payload.model_dump_json(),
        correlation_id=event.correlation_id,
    )


def decode_event(fields: dict[str, str]) -> Event:
    """Read an event back from its stream fields.

    Raises
    ------
    DataError
        A field is missing, the type is unknown, or the payload does not fit its model.
    """
    try:
        event_type = fields["type"]
        model = payload_model(event_type)
        payload = model.model_validate_json(fields["payload"])
        return Event.model_construct(
            id=fields["id"],
            type=event_type,
            source=fields["source"],
            occurred_at=datetime.fromisoformat(fields["at"]),
            payload=payload,
            correlation_id=fields.get("cid") or None,
        )
    except KeyError as exc:
        raise DataError(f"stream entry has no {exc.args[0]!r} field") from None
    except ValidationError as exc:
        raise DataError(f"{fields.get('type')} event payload: {first_error(exc)}") from None
    except ValueError as exc:
        raise DataError(f"stream entry is malformed: {exc}") from None


def add_events(pipe: Any, namespace: str, events: Sequence[Event], *, maxlen: int) -> None:
    """Queue each event's XADD (its stream trimmed to ~``maxlen``) and their count on
    ``pipe``, a redis-py pipeline (transactional or not: the caller's choice).

    Example: ``add_events(pipe, "qt", [event], maxlen=100_000); pipe.execute()``.
    """
    for event in events:
        pipe.xadd(
            stream_key(namespace, event.type), encode_event(event), maxlen=maxlen, approximate=True
        )
    pipe.hincrby(stats_key(namespace), "published", len(events))


def event_args(event: Event | dict[str, str], maxlen: int) -> list[str]:
    """The arguments of a script's ``emit_event`` after its keys: the maxlen, then the
    values of :data:`EVENT_FIELDS` in order, of ``event`` or of its stream fields."""
    fields = encode_event(event) if isinstance(event, Event) else event
    return [str(maxlen), *(fields[name] for name in EVENT_FIELDS)]


_LUA_PARAMS = ", ".join(EVENT_FIELDS)
_LUA_PAIRS = ", ".join(f"'{name}', {name}" for name in EVENT_FIELDS)

LUA_EMIT = f"""
local function emit_event(stream, stats, maxlen, {_LUA_PARAMS})
  redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', {_LUA_PAIRS})
  redis.call('HINCRBY', stats, 'published', 1)
end
"""
"""Lua: ``emit_event(stream, stats, maxlen, id, type, source, at, cid, payload)`` appends
one event to ``stream`` in the layout above and counts it. Scripts that publish include
it (``LUA_EMIT + script``); ``cid`` is '' when there is no correlation id."""

_WIDTH = len(EVENT_FIELDS)

LUA_PUBLISH = (
    LUA_EMIT
    + f"""
local n = #KEYS - 1
for i = 1, n do
  local a = 2 + (i - 1) * {_WIDTH}
  emit_event(KEYS[i], KEYS[n + 1], ARGV[1], unpack(ARGV, a, a + {_WIDTH - 1}))
end
return n
"""
)
"""Lua: publish many events in one call. KEYS: each event's stream, then the stats hash;
ARGV: the maxlen, then each event's :data:`EVENT_FIELDS` values (:func:`publish_args`)."""


def publish_args(
    namespace: str, events: Sequence[Event], *, maxlen: int
) -> tuple[list[str], list[str]]:
    """(keys, args) of :data:`LUA_PUBLISH` for ``events``.

    Example: ``script(*publish_args("qt", events, maxlen=100_000))``.
    """
    keys = [stream_key(namespace, event.type) for event in events]
    keys.append(stats_key(namespace))
    args = [str(maxlen)]
    for event in events:
        fields = encode_event(event)
        args += [fields[name] for name in EVENT_FIELDS]
    return keys, args
