"""Where the engine keeps PAL's state of each open position, across cycles and restarts.

Storage (under the namespace ``ns``)::

    ns:pal:state    hash: position id -> JSON of its PalState

Read once by an engine, then kept in memory and written through; a position no longer
open is dropped from it.

>>> book = PalBook(client, namespace="qt")
>>> state = book.get(position.id); book.put(position.id, decision.state)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

import redis

from components.pal.layer import PalState
from components.redis import namespaced


class PalBook:
    """PAL's state per open position (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self._r: Any = client  # redis-py types responses as unions; this client decodes
        self.key = namespaced(namespace, "pal", "state")
        self._states: dict[str, PalState] | None = None

    def _all(self) -> dict[str, PalState]:
        if self._states is None:
            raw = self._r.hgetall(self.key)
            self._states = {pid: PalState(**json.loads(value)) for pid, value in raw.items()}
        return self._states

    def get(self, position_id: str) -> PalState | None:
        return self._all().get(position_id)

    def put(self, position_id: str, state: PalState) -> None:
        if self._all().get(position_id) != state:
            self._all()[position_id] = state
            self._r.hset(self.key, position_id, json.dumps(asdict(state)))

    def keep_only(self, open_ids: Iterable[str]) -> None:
        """Forget the positions that are no longer open."""
        states = self._all()
        gone = set(states) - set(open_ids)
        if gone:
            for pid in gone:
                del states[pid]
            self._r.hdel(self.key, *gone)
