"""The event envelope and the registry of payload models, one per event type.

Every event on the bus is an :class:`Event` whose ``payload`` is an instance of the
pydantic model registered for its ``type``::

    event = Event.create("policy.updated", {"version": 3, ...}, source="ops")

How an event is stored on a Redis stream (keys, fields, trimming) is
:mod:`components.events.streams`' alone.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, model_validator

from components.clock import SystemClock
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


_WALL = SystemClock()
"""Where an event that is given no ``occurred_at`` takes its time from."""


class Event(BaseModel):
    """The envelope every event travels in.

    ``id`` is unique per event (handlers use it to stay idempotent under at-least-once
    delivery); ``correlation_id`` ties together events caused by one decision.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=new_event_id, min_length=1)
    type: str
    source: str = Field(min_length=1)
    occurred_at: datetime = Field(default_factory=_WALL.now)
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
                occurred_at=occurred_at or _WALL.now(),
                correlation_id=correlation_id,
            )
        except ValidationError as exc:
            raise DataError(f"{event_type} event: {first_error(exc)}") from None


def event_to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of the whole envelope (for ``--json`` output and mirrors)."""
    data: dict[str, Any] = json.loads(event.model_dump_json())
    return data


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{location}: {error['msg']} (got {error.get('input')!r})"
