"""An accelerated clock every engine process on the machine agrees on.

With ``speed`` > 1 the engine trades the synthetic market faster than real time. A
restarted engine must continue from the simulated time the last one reached (its ledger
already holds bars up to it), so the clock's anchor lives in Redis: each start re-anchors
at the simulated time reached so far, and simulated time never runs backwards.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import redis

from components.clock import Clock, SimulatedClock
from components.redis import namespaced


def engine_clock(client: redis.Redis, namespace: str, *, speed: float, start: Clock) -> Clock:
    """``start`` itself at ``speed`` 1; otherwise a simulated clock anchored in Redis.

    ``start`` (the process's clock) says where simulated time begins the first time.
    """
    if speed == 1:
        return start
    r: Any = client
    key = namespaced(namespace, "engine", "clock")
    anchor = r.hgetall(key)
    wall = time.time()
    if anchor:
        elapsed = max(0.0, wall - float(anchor["wall"])) * float(anchor["speed"])
        now = datetime.fromisoformat(anchor["simulated"]) + timedelta(seconds=elapsed)
    else:
        now = start.now()
    r.hset(key, mapping={"simulated": now.isoformat(), "wall": wall, "speed": speed})
    return SimulatedClock(now, speed=speed)
