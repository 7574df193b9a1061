"""The engine's heartbeat: written once per cycle by :class:`HeartbeatWriter`, read by
others (``up``'s status line, ``positions``, metrics, the health check) through
:func:`read_heartbeat`. A light module, so a reader need not import the engine itself."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis

from components.clock import Clock, SystemClock
from components.redis import namespaced


def heartbeat_key(namespace: str) -> str:
    return namespaced(namespace, "engine", "heartbeat")


class HeartbeatWriter:
    """Writes the engine's heartbeat: ``at`` from ``clock`` (the wall clock: liveness is
    judged in real time, whatever the market's clock), the market time and the cycle.

    >>> HeartbeatWriter(client, "qt").write(cycle=3, market_at=now, report="{}")
    """

    def __init__(self, client: redis.Redis, namespace: str, *, clock: Clock | None = None) -> None:
        self._r: Any = client
        self._key = heartbeat_key(namespace)
        self.clock = clock or SystemClock()

    def write(self, *, cycle: int, market_at: datetime, report: str) -> None:
        """Record that cycle ``cycle`` ran at market time ``market_at``; ``report`` is the
        cycle's report as JSON."""
        self._r.hset(
            self._key,
            mapping={
                "at": self.clock.now().isoformat(),
                "market_at": market_at.isoformat(),
                "cycle": cycle,
                "report": report,
            },
        )


def read_heartbeat(client: redis.Redis, namespace: str) -> dict[str, Any] | None:
    """The engine's last heartbeat: ``at`` (wall clock), ``market_at``, ``cycle``, ``report``."""
    raw: dict[str, str] = client.hgetall(heartbeat_key(namespace))  # type: ignore[assignment]
    if not raw:
        return None
    return {
        "at": datetime.fromisoformat(raw["at"]),
        "market_at": datetime.fromisoformat(raw["market_at"]),
        "cycle": int(raw["cycle"]),
        "report": json.loads(raw["report"]),
    }
