"""/api/events: the latest events, and a live stream (server-sent events) that resumes
from ``Last-Event-ID``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import redis
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from components.errors import QuantumTraderError
from components.events import Event, event_to_json, payload_model
from deployments.api.auth import Caller, Svc

router = APIRouter(prefix="/api/events", tags=["events"])
log = logging.getLogger(__name__)

KEEP_ALIVE_S = 15.0
READ_BLOCK_MS = 1_000


def event_json(position: str, event: Event) -> dict[str, Any]:
    """An event as the API shows it: the envelope plus its stream ``position``, which
    ``Last-Event-ID`` (or the stream's ``after``) accepts to resume from."""
    return {"position": position, **event_to_json(event)}


@router.get("", summary="The latest events, oldest first")
def latest_events(
    svc: Svc,
    _: Caller,
    event_type: Annotated[str | None, Query(alias="type", description="Only this type.")] = None,
    count: Annotated[int, Query(ge=1, le=1_000)] = 50,
) -> list[dict[str, Any]]:
    if event_type is not None:
        payload_model(event_type)  # unknown: 422 naming the known types
    return [event_json(p, e) for p, e in svc.bus.tail_entries(event_type, count=count)]


@router.get(
    "/stream",
    summary="Every new event, as server-sent events (resumes from Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def event_stream(
    svc: Svc,
    _: Caller,
    event_type: Annotated[str | None, Query(alias="type", description="Only this type.")] = None,
    after: Annotated[
        str | None, Query(description="Resume after this position (as Last-Event-ID does).")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Each event is one message: ``id`` is its position, ``event`` its type, ``data`` its
    JSON. A client that reconnects with ``Last-Event-ID`` gets every event since, at least
    once (events of that same millisecond may come again: their ``id`` field tells)."""
    if event_type is not None:
        payload_model(event_type)
    cursors = svc.bus.cursors(event_type, after=last_event_id or after)

    def messages() -> Iterator[str]:
        yield f"retry: 2000\n: streaming {svc.namespace} events\n\n"
        idle = 0.0
        while True:
            try:
                batch = svc.bus.read(cursors, block_ms=READ_BLOCK_MS)
            except (redis.RedisError, QuantumTraderError) as exc:
                log.warning("event stream ends: %s", type(exc).__name__)
                yield 'event: error\ndata: {"detail": "the event store is unavailable"}\n\n'
                return
            if not batch:
                idle += READ_BLOCK_MS / 1000
                if idle >= KEEP_ALIVE_S:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                continue
            idle = 0.0
            for position, event in batch:
                data = json.dumps(event_json(position, event), separators=(",", ":"))
                yield f"id: {position}\nevent: {event.type}\ndata: {data}\n\n"

    return StreamingResponse(
        messages(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
