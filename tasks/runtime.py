"""The connections tasks share within one process: Redis, the PolicyStore, the EventBus
(with its Prefect mirror), the clock and the market source, opened once per settings.

The clock is the one place a flow takes ``now`` from (through :func:`tasks.market.read_clock`
or ``runtime(settings).clock``): the wall clock, the fixed time of ``QT_CLOCK``, or the
demo's simulated clock handed in with :func:`use_market`.

No split brain: the embedded Redis (``QT_REDIS_URL`` unset) is a store of this machine
only. A flow run under a worker, or against a Prefect API on another machine, refuses it
before anything is read or written (:func:`refuse_split_brain`): its decisions would go to
a private store while the runs look Completed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import redis

from components.clock import Clock, make_clock
from components.errors import ConfigurationError
from components.events import RedisEventBus
from components.market import MarketData, open_market
from components.policy import PolicyStore
from components.redaction import hide_secrets_in_logs
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
    """The shared connections for ``settings`` (opened on first use in this process).

    Raises
    ------
    ConfigurationError
        ``QT_REDIS_URL`` is unset where the embedded Redis would split the brain.
    """
    hide_secrets_in_logs(settings)
    client = redis_client(settings)
    bus = RedisEventBus.connect(settings)
    attach_prefect_mirror(bus, settings.namespace)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings, bus=bus)
    if settings in _markets:
        market, clock = _markets[settings]
    else:
        clock = make_clock(settings.clock)
        market = open_market(settings.market, clock=clock)
    return Runtime(settings, client, store, bus, clock, market)


_markets: dict[Settings, tuple[MarketData, Clock]] = {}


def redis_client(settings: Settings) -> redis.Redis:
    """The Redis server of ``settings`` for code run by a flow (its tasks and its state
    hooks alike): the embedded one is refused where it would split the brain.

    Raises
    ------
    ConfigurationError
        ``QT_REDIS_URL`` is unset where the embedded Redis would split the brain.
    """
    if settings.redis_url is None:
        refuse_split_brain()
    return connect(settings)


def use_market(settings: Settings, market: MarketData, clock: Clock | None = None) -> None:
    """Make the flows of this process read ``market`` and take ``now`` from ``clock`` (e.g.
    the demo's simulated clock; default the market's own time) instead of what the
    settings describe. Pass the clock to move it by hand (``advance_simulated_clock``)."""
    _markets[settings] = (market, clock or market)
    runtime.cache_clear()


def refuse_split_brain() -> None:
    """Refuse the embedded Redis in a flow run under a worker or against a remote API.

    Raises
    ------
    ConfigurationError
        One line naming ``QT_REDIS_URL`` and why this process cannot use its own store.
    """
    why = _distributed()
    if why is not None:
        raise ConfigurationError(
            f"{why}, so the embedded Redis of this machine would be a private store (split "
            "brain): set QT_REDIS_URL to the Redis server every machine shares"
        )


def _distributed() -> str | None:
    """Why this process is part of a deployment beyond this machine, or None."""
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if api_url and not _is_this_machine(urlsplit(api_url).hostname or ""):
        return f"this runs against the Prefect API at {urlsplit(api_url).hostname}, another machine"
    pool = _work_pool_of_this_flow_run()
    if pool:
        return f"this flow run runs under a worker of work pool {pool!r}"
    return None


def _is_this_machine(host: str) -> bool:
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    local = set()
    for name in (socket.gethostname(), "localhost"):
        try:
            local |= {info[4][0] for info in socket.getaddrinfo(name, None)}
        except OSError:
            continue
    return all(ipaddress.ip_address(a.split("%")[0]).is_loopback or a in local for a in addresses)


def _work_pool_of_this_flow_run() -> str | None:
    """The work pool of the flow run this process belongs to (None outside one, or when
    it runs under ``serve``, which needs no pool)."""
    from prefect.context import FlowRunContext, TaskRunContext

    flow_ctx = FlowRunContext.get()
    if flow_ctx is not None and flow_ctx.flow_run is not None:
        return flow_ctx.flow_run.work_pool_name
    task_ctx = TaskRunContext.get()
    run_id = task_ctx.task_run.flow_run_id if task_ctx is not None else None
    return None if run_id is None else _work_pool_of(str(run_id))


@lru_cache(maxsize=8)
def _work_pool_of(flow_run_id: str) -> str | None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).work_pool_name
