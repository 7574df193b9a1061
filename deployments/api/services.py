"""The components the HTTP API calls: the same ones the command line uses, opened once
per process and shared by every request (redis-py's client is thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import redis

from components.access import TokenStore
from components.analytics.chart_store import ChartStore
from components.events import RedisEventBus
from components.execution import Ledger
from components.health import HealthStore
from components.market import Clock, MarketData, SystemClock, open_market
from components.monitoring import Telemetry
from components.policy import PolicyStore
from components.redis import connect
from components.risk.emergency import EmergencyStop
from components.settings import Settings


@dataclass
class Services:
    """Everything a route needs, built from Settings (``Services.connect(settings)``)."""

    settings: Settings
    client: redis.Redis
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def connect(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        return cls(settings, connect(settings), clock or SystemClock())

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @cached_property
    def tokens(self) -> TokenStore:
        return TokenStore(self.client, namespace=self.namespace)

    @cached_property
    def bus(self) -> RedisEventBus:
        """For reading (tail, follow) and for the events writes publish."""

        return RedisEventBus(self.client, namespace=self.namespace, config=self.settings.bus)

    @cached_property
    def policy(self) -> PolicyStore:
        return PolicyStore(
            self.client, namespace=self.namespace, settings=self.settings, bus=self.bus
        )

    @cached_property
    def ess(self) -> EmergencyStop:

        return EmergencyStop(
            self.client,
            namespace=self.namespace,
            bus=self.bus,
            config=self.settings.ess,
            stream_maxlen=self.settings.bus.stream_maxlen,
        )

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(
            self.client,
            namespace=self.namespace,
            initial_cash=self.settings.paper.initial_cash,
            stream_maxlen=self.settings.bus.stream_maxlen,
        )

    @cached_property
    def health(self) -> HealthStore:
        return HealthStore(self.client, namespace=self.namespace)

    @cached_property
    def telemetry(self) -> Telemetry:
        return Telemetry(self.client, namespace=self.namespace)

    @cached_property
    def charts(self) -> ChartStore:
        return ChartStore(self.client, namespace=self.namespace)

    @cached_property
    def market(self) -> MarketData:
        """The market the engine trades (opened on first use: it can take a while)."""
        return open_market(self.settings.market, clock=self.clock)

    def analytics(self) -> Any:
        """Analytics brought up to date with every event (as ``quantum-trader report``)."""
        from components.analytics import Analytics

        analytics = Analytics.connect(self.settings)
        bus = RedisEventBus(self.client, namespace=self.namespace)  # its own consumer
        analytics.attach(bus)
        analytics.catch_up(bus)
        return analytics
