"""The connections tasks share within one process: Redis, the PolicyStore, the EventBus
(with its Prefect mirror), the clock and the market source, opened once per settings.

The clock is the one place a flow takes ``now`` from (through :func:`tasks.market.read_clock`
or ``runtime(settings).clock``): the wall clock, the fixed time of ``QT_CLOCK``, or the
demo's simulated clock handed in with :func:`use_market`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import redis

from components.clock import Clock, make_clock
from components.events import RedisEventBus
from components.market import MarketData, open_market
from components.policy import PolicyStore
from components.redis import connect
from components.settings import Settings
from tasks.mirror import attach_prefect_mirror


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    client: redis.Redis
    store: PolicyStore
    bus: RedisEventBus
    clock: Clock
    market: MarketData


@lru_cache(maxsize=8)
def runtime(settings: Settings) -> Runtime:
    """The shared connections for ``settings`` (opened on first use in this process)."""
    client = connect(settings)
    bus = RedisEventBus.connect(settings)
    attach_prefect_mirror(bus)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings, bus=bus)
    if settings in _markets:
        market, clock = _markets[settings]
    else:
        clock = make_clock(settings.clock)
        market = open_market(settings.market, clock=clock)
    return Runtime(settings, client, store, bus, clock, market)


_markets: dict[Settings, tuple[MarketData, Clock]] = {}


def use_market(settings: Settings, market: MarketData, clock: Clock | None = None) -> None:
    """Make the flows of this process read ``market`` and take ``now`` from ``clock`` (e.g.
    the demo's simulated clock; default the market's own time) instead of what the
    settings describe. Pass the clock to move it by hand (``advance_simulated_clock``)."""
    _markets[settings] = (market, clock or market)
    runtime.cache_clear()
