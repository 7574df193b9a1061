"""The event envelope and the registry of payload models, one per event type.

Every event on the bus is an :class:`Event` whose ``payload`` is an instance of the
pydantic model registered for its ``type``::

    event = Event.create("policy.updated", {"version": 3, ...}, source="ops")

On a Redis stream an event is stored as the flat fields of :func:`encode_event`, which
:func:`decode_event` reads back; the PolicyStore writes the same fields from its Lua
script, so every reader sees one format.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator

from components.errors import DataError, UnknownEventTypeError

_PAYLOADS: dict[str, type[BaseModel]] = {}


def register_event_type(event_type: str, model: type[BaseModel]) -> type[BaseModel]:
    """Register ``model`` as the payload of ``event_type``; returns the model."""
    existing = _PAYLOADS.get(event_type)
    if existing is not None and existing is not model:
        raise ValueError(f"event type {event_type!r} is already registered to {existing.__name__}")
    _PAYLOADS[event_type] = model
    return model


def event_types() -> list[str]:
    """Every registered event type, sorted."""
    return sorted(_PAYLOADS)


def payload_model(event_type: str) -> type[BaseModel]:
    """The payload model of ``event_type``.

    Raises
    ------
    UnknownEventTypeError
        No model is registered for it; the message lists the known types.
    """
    try:
        return _PAYLOADS[event_type]
    except KeyError:
        raise UnknownEventTypeError(
            f"unknown event type {event_type!r}; known types: {', '.join(event_types())}"
        ) from None


def new_event_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope every event travels in.

    ``id`` is unique per event (handlers use it to stay idempotent under at-least-once
    delivery); ``correlation_id`` ties together events caused by one decision.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_event_id, min_length=1)
    type: str
    source: str = Field(min_length=1)
    occurred_at: datetime = Field(default_factory=utcnow)
    payload: SerializeAsAny[BaseModel]
    correlation_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _validate_payload(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "type" not in data:
            return data
        model = payload_model(data["type"])
        payload = data.get("payload")
        if not isinstance(payload, model):
            if isinstance(payload, BaseModel):
                payload = payload.model_dump()
            payload = model.model_validate(payload)
            data = {**data, "payload": payload}
        return data

    @classmethod
    def create(
        cls,
        event_type: str,
        payload: BaseModel | dict[str, Any],
        *,
        source: str,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
    ) -> Event:
        """Build an event, validating ``payload`` against the model of ``event_type``.

        Raises
        ------
        DataError
            The type is unknown or the payload does not fit its model (names the field).
        """
        try:
            return cls(
                type=event_type,
                payload=payload,  # coerced by the validator
                source=source,
                occurred_at=occurred_at or utcnow(),
                correlation_id=correlation_id,
            )
        except ValidationError as exc:
            raise DataError(f"{event_type} event: {_first_error(exc)}") from None


def encode_event(event: Event) -> dict[str, str]:
    """The flat string fields an event is stored as on a stream."""
    return {
        "id": event.id,
        "type": event.type,
        "source": event.source,
        "at": event.occurred_at.isoformat(),
        "cid": event.correlation_id or "",
        "payload": event.payload.model_dump_json(),
    }


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
        raise DataError(f"{fields.get('type')} event payload: {_first_error(exc)}") from None
    except ValueError as exc:
        raise DataError(f"stream entry is malformed: {exc}") from None


def stored_event(
    event_id: str,
    event_type: str,
    *,
    source: str,
    at: str,
    payload: str,
    correlation_id: str | None = None,
) -> Event:
    """The event a Lua script wrote to its stream from these parts (the fields of
    :func:`encode_event`), e.g. to hand it to the bus's mirrors afterwards."""
    return decode_event(
        {"id": event_id, "type": event_type, "source": source, "at": at,
         "cid": correlation_id or "", "payload": payload}
    )  # fmt: skip


def event_to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of the whole envelope (for ``--json`` output and mirrors)."""
    data: dict[str, Any] = json.loads(event.model_dump_json())
    return data


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{location}: {error['msg']} (got {error.get('input')!r})"
