"""The engine's heartbeat as others read it (``up``'s status line, ``positions``, metrics):
a light module, so a reader need not import the engine itself."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import redis

from components.redis import namespaced


def heartbeat_key(namespace: str) -> str:
    return namespaced(namespace, "engine", "heartbeat")


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
