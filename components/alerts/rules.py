"""Which events deserve a person's attention, and what the message says.

:func:`alert_for` turns an event into an :class:`Alert`, or None for the events nobody
needs to be told about: the Emergency Stop tripping or resuming, the policy's emergency
flag set or cleared, health turning CRITICAL or recovering from it, a strategy or a
model promoted (or retired, or rolled back), and a decision module held back in OBSERVE
after failing (or let go again).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from components.events import Event
from components.events.types import (
    ESS_STATE_CHANGED,
    HEALTH_STATUS_CHANGED,
    MODEL_PROMOTED,
    MODULE_MODE_CHANGED,
    POLICY_UPDATED,
    STRATEGY_PROMOTED,
)

ALERT_TYPES = (
    ESS_STATE_CHANGED,
    POLICY_UPDATED,
    HEALTH_STATUS_CHANGED,
    STRATEGY_PROMOTED,
    MODEL_PROMOTED,
    MODULE_MODE_CHANGED,
)
_SEVERITY = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


class Level(StrEnum):
    """Apprise's notification types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


class Alert(BaseModel):
    """One notification, tied to the event that caused it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    body: str
    level: Level
    event_id: str
    event_type: str
    occurred_at: AwareDatetime


def alert_for(event: Event, *, namespace: str) -> Alert | None:
    """The alert ``event`` calls for, or None.

    >>> alert_for(ess_halted_event, namespace="qt").title
    '[qt] Emergency stop HALTED'
    """
    payload: Any = event.payload
    found: tuple[str, str, Level] | None = None
    if event.type == ESS_STATE_CHANGED:
        found = _ess(payload)
    elif event.type == POLICY_UPDATED:
        found = _emergency(payload)
    elif event.type == HEALTH_STATUS_CHANGED:
        found = _health(payload)
    elif event.type == STRATEGY_PROMOTED:
        level = Level.WARNING if payload.to_state == "retired" else Level.INFO
        found = (
            f"Strategy {payload.strategy}: {payload.from_state or 'new'} -> {payload.to_state}",
            _evidence(payload.evidence),
            level,
        )
    elif event.type == MODEL_PROMOTED:
        verb = "rolled back to" if payload.action == "rolled_back" else "promoted:"
        found = (
            f"Model {payload.model} {verb} {payload.version}",
            f"previous version: {payload.previous_version or 'none'}"
            + (f"; {_evidence(payload.metrics)}" if payload.metrics else ""),
            Level.INFO,
        )
    elif event.type == MODULE_MODE_CHANGED:
        held_back = payload.mode != payload.configured
        found = (
            f"Module {payload.module}: {payload.previous} -> {payload.mode}",
            f"{payload.reason} (by {payload.by})",
            Level.WARNING if held_back else Level.SUCCESS,
        )
    if found is None:
        return None
    title, body, level = found
    return Alert(
        title=f"[{namespace}] {title}",
        body=f"{body}\n\n{event.type} from {event.source} at {_when(event.occurred_at)}",
        level=level,
        event_id=event.id,
        event_type=event.type,
        occurred_at=event.occurred_at,
    )


def _ess(payload: Any) -> tuple[str, str, Level]:
    state, previous = payload.state, payload.previous
    why = f"{payload.reason} (by {payload.by})"
    if state == "ACTIVE":
        return f"Emergency stop resumed (was {previous or 'unknown'})", why, Level.SUCCESS
    if _SEVERITY[state] > _SEVERITY.get(previous or "ACTIVE", 0):
        level = Level.FAILURE if state == "HALTED" else Level.WARNING
        return f"Emergency stop {state}", why, level
    return f"Emergency stop eased to {state} (was {previous})", why, Level.WARNING


def _emergency(payload: Any) -> tuple[str, str, Level] | None:
    change = payload.changes.get("emergency.active")
    if change is None or bool(change.old) == bool(change.new):
        return None
    reason = payload.changes.get("emergency.reason")
    why = f"{payload.reason} (by {payload.by})"
    if change.new:
        detail = reason.new if reason is not None and reason.new else payload.reason
        return "EMERGENCY declared", f"{detail}\npolicy v{payload.version}: {why}", Level.FAILURE
    return "Emergency cleared", f"policy v{payload.version}: {why}", Level.SUCCESS


def _health(payload: Any) -> tuple[str, str, Level] | None:
    reasons = "; ".join(payload.reasons) or "no reason given"
    if payload.status == "CRITICAL" and payload.previous != "CRITICAL":
        return "Health CRITICAL", reasons, Level.FAILURE
    if payload.previous == "CRITICAL" and payload.status != "CRITICAL":
        return f"Health recovered: {payload.status}", reasons, Level.SUCCESS
    return None


def _evidence(values: dict[str, Any]) -> str:
    shown = [
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(values.items())
    ]
    return ", ".join(shown[:12]) or "no evidence recorded"


def _when(at: datetime) -> str:
    return at.isoformat(timespec="seconds")
