"""The system's health status, as the health check last found it, kept in Redis.

``ns:health:status`` holds the current :class:`HealthRecord`; a change of status is written
together with its ``health.status_changed`` event (one MULTI/EXEC), and only a change
publishes: the same status again just refreshes the checks.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict

from components.events.models import Event
from components.events.streams import add_events
from components.events.types import HEALTH_STATUS_CHANGED
from components.redis import namespaced

log = logging.getLogger(__name__)


class HealthStatus(StrEnum):
    HEALTHY = "HEALTHY"
    DEGRADED = "DEGRADED"
    CRITICAL = "CRITICAL"


class HealthRecord(BaseModel):
    """The latest health verdict: since when it holds, why, and what each check saw."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: HealthStatus
    since: AwareDatetime
    checked_at: AwareDatetime
    reasons: list[str] = []
    checks: dict[str, Any] = {}


class HealthStore:
    """Read and record the health status (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, namespace: str, stream_maxlen: int = 100_000):
        self._r: Any = client
        self._namespace = namespace
        self._key = namespaced(namespace, "health", "status")
        self._maxlen = stream_maxlen

    def get(self) -> HealthRecord | None:
        """The latest record, or None if no health check has run yet."""
        raw = self._r.get(self._key)
        return HealthRecord.model_validate_json(raw) if raw else None

    def record(
        self,
        status: HealthStatus,
        *,
        now: datetime,
        reasons: list[str] | None = None,
        checks: dict[str, Any] | None = None,
        source: str = "health-check",
    ) -> tuple[HealthRecord, Event | None]:
        """Store the verdict; on a change of status also append ``health.status_changed``.

        Returns the stored record and the event, if one was published.
        """
        reasons, checks = reasons or [], checks or {}
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._key)
                    raw = pipe.get(self._key)
                    previous = HealthRecord.model_validate_json(raw) if raw else None
                    changed = previous is None or previous.status is not status
                    record = HealthRecord(
                        status=status,
                        since=now if changed or previous is None else previous.since,
                        checked_at=now,
                        reasons=reasons,
                        checks=checks,
                    )
                    event = None
                    pipe.multi()
                    pipe.set(self._key, record.model_dump_json())
                    if changed:
                        event = Event.create(
                            HEALTH_STATUS_CHANGED,
                            {
                                "status": status.value,
                                "previous": previous.status.value if previous else None,
                                "reasons": reasons,
                                "checks": checks,
                            },
                            source=source,
                            occurred_at=now,
                        )
                        add_events(pipe, self._namespace, [event], maxlen=self._maxlen)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        if event is not None:
            log.warning("health %s -> %s: %s", previous and previous.status, status, reasons)
        return record, event
