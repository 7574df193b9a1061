"""The connections tasks share within one process: Redis, the PolicyStore, the EventBus
(with its Prefect mirror) and the market source, opened once per settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import redis

from components.events import RedisEventBus
from components.market import MarketConfig, MarketData, SystemClock, open_market
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
    market: MarketData


@lru_cache(maxsize=8)
def runtime(settings: Settings) -> Runtime:
    """The shared connections for ``settings`` (opened on first use in this process)."""
    client = connect(settings)
    bus = RedisEventBus.connect(settings)
    attach_prefect_mirror(bus)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings, bus=bus)
    market = _markets.get(settings) or open_market(
        MarketConfig.from_settings(settings), clock=SystemClock()
    )
    return Runtime(settings, client, store, bus, market)


_markets: dict[Settings, MarketData] = {}


def use_market(settings: Settings, market: MarketData) -> None:
    """Make the flows of this process read ``market`` (e.g. the demo's simulated clock)
    instead of opening the one the settings describe."""
    _markets[settings] = market
    runtime.cache_clear()
