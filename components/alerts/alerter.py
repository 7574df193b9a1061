"""Deliver alerts through Apprise, durably: an outbox in Redis, retried with backoff.

The :class:`Alerter` consumes the event bus in the consumer group ``alerts``. For each
event that calls for an alert (:func:`~components.alerts.rules.alert_for`) it puts one
entry per target URL in the outbox, then the event is acknowledged; delivery happens from
the outbox. A target that fails (down, refusing, timing out) is logged and tried again
after a growing delay (``retry_base`` doubling up to ``retry_max``) until ``give_up_after``;
nothing of this runs in the engine, so an undeliverable alert never slows or stops
trading. Targets are known by a digest of their URL, so the outbox never holds a secret.

Keys (under the namespace ``ns``)::

    ns:alerts:outbox   zset: entry JSON (alert, target digest, attempts) -> due (epoch s)
    ns:alerts:stats    hash: sent, failed (attempts), dropped (gave up or target removed)

Several alerters may run (one per API process): an entry is claimed atomically (its due
time pushed a lease ahead) before it is sent, so each is sent by one of them, and one
that died mid-send is retried when the lease runs out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis
from pydantic import BaseModel, ConfigDict, Field

from components.alerts.rules import ALERT_TYPES, Alert, alert_for
from components.errors import ConfigurationError
from components.events import Event, RedisEventBus
from components.market import Clock
from components.redis import namespaced
from components.settings import Settings

log = logging.getLogger(__name__)

GROUP = "alerts"

# KEYS: outbox. ARGV: now, lease until, max entries. Claims what is due by moving its due
# time to the lease's end, so no other alerter takes it meanwhile.
_CLAIM_SCRIPT = r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""


class AlertConfig(BaseModel):
    """Where alerts go and how hard delivery tries.

    >>> AlertConfig(urls=("json://127.0.0.1:9000",), retry_base=timedelta(seconds=5))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    urls: tuple[str, ...] = Field((), repr=False)
    retry_base: timedelta = Field(timedelta(seconds=10), description="First retry delay.")
    retry_max: timedelta = Field(timedelta(minutes=15), description="Longest retry delay.")
    give_up_after: timedelta = Field(timedelta(hours=24), description="Then drop, logged.")
    lease: timedelta = Field(timedelta(minutes=2), description="A claimed entry's lease.")
    timeout_s: float = Field(10.0, gt=0, le=300, description="One delivery attempt.")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> AlertConfig:
        raw = settings.alerts.urls.get_secret_value() if settings.alerts.urls else ""
        urls = tuple(u for u in re.split(r"[\s,]+", raw) if u)
        return cls(urls=urls, **overrides)


class Notifier(Protocol):
    """Sends one alert to one target; raises on failure."""

    def __call__(self, url: str, alert: Alert) -> None: ...


def target_id(url: str) -> str:
    """The digest a target is known by in Redis and in logs."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def describe_target(url: str) -> str:
    """``scheme://host`` of a URL, for logs: never its credentials, path or tokens."""
    scheme, _, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return f"{scheme}://{host} ({target_id(url)})"


class AppriseNotifier:
    """Delivery through Apprise (email, Slack, Telegram, webhooks, json:// ...).

    Raises ``ConfigurationError`` at construction for a URL Apprise cannot use.
    """

    def __init__(self, urls: Sequence[str], *, timeout_s: float = 10.0) -> None:
        import apprise  # heavy (plugins load on import): only where alerts are sent

        self._apprise = apprise
        self._targets: dict[str, Any] = {}
        for url in urls:
            target = apprise.Apprise()
            if not target.add(url):
                raise ConfigurationError(
                    f"QT_ALERT_URLS: Apprise cannot use {describe_target(url)}; "
                    "see https://github.com/caronc/apprise/wiki for the URL forms"
                )
            for plugin in target:
                plugin.socket_connect_timeout = timeout_s
                plugin.socket_read_timeout = timeout_s
            self._targets[url] = target

    def __call__(self, url: str, alert: Alert) -> None:
        target = self._targets.get(url)
        if target is None:
            raise ConfigurationError(f"no such alert target {describe_target(url)}")
        if not target.notify(title=alert.title, body=alert.body, notify_type=alert.level.value):
            raise ConnectionError(f"{describe_target(url)} did not accept the alert")


class Outbox:
    """The durable queue of alert deliveries (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, namespace: str) -> None:
        self._r: Any = client
        self._key = namespaced(namespace, "alerts", "outbox")
        self._stats = namespaced(namespace, "alerts", "stats")
        self._claim = client.register_script(_CLAIM_SCRIPT)

    def put(self, alert: Alert, targets: Sequence[str], *, now: datetime) -> None:
        entries = {
            json.dumps(
                {"alert": alert.model_dump(mode="json"), "target": target, "attempts": 0},
                sort_keys=True,
            ): now.timestamp()
            for target in targets
        }
        if entries:
            self._r.zadd(self._key, entries, nx=True)  # the same alert twice: queued once

    def claim(self, *, now: datetime, lease: timedelta, limit: int = 50) -> list[str]:
        members: list[str] = self._claim(
            keys=[self._key], args=[now.timestamp(), (now + lease).timestamp(), limit]
        )
        return members

    def done(self, member: str, outcome: str) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.zrem(self._key, member)
        pipe.hincrby(self._stats, outcome, 1)
        pipe.execute()

    def again(self, member: str, entry: dict[str, Any], due: datetime) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.zrem(self._key, member)
        pipe.zadd(self._key, {json.dumps(entry, sort_keys=True): due.timestamp()})
        pipe.hincrby(self._stats, "failed", 1)
        pipe.execute()

    def pending(self) -> int:
        return int(self._r.zcard(self._key))

    def next_due(self) -> datetime | None:
        first = self._r.zrange(self._key, 0, 0, withscores=True)
        return datetime.fromtimestamp(first[0][1], UTC) if first else None

    def stats(self) -> dict[str, int]:
        return {k: int(v) for k, v in self._r.hgetall(self._stats).items()}


class Alerter:
    """Turn events into alerts and deliver them (see the module docstring).

    >>> alerter = Alerter.connect(settings, clock=SystemClock())
    >>> alerter.run(stop)          # or step() in a loop of your own
    """

    def __init__(
        self,
        bus: RedisEventBus,
        outbox: Outbox,
        *,
        namespace: str,
        config: AlertConfig,
        clock: Clock,
        notifier: Notifier | None = None,
    ) -> None:
        self.bus = bus
        self.outbox = outbox
        self.namespace = namespace
        self.config = config
        self.clock = clock
        self._urls = {target_id(url): url for url in config.urls}
        self._notify: Notifier = notifier or AppriseNotifier(
            config.urls, timeout_s=config.timeout_s
        )
        bus.subscribe(list(ALERT_TYPES), self.handle, group=GROUP)

    @classmethod
    def connect(
        cls, settings: Settings, *, clock: Clock, notifier: Notifier | None = None
    ) -> Alerter:
        from components.redis import connect

        client = connect(settings)
        bus = RedisEventBus.connect(settings)
        return cls(
            bus,
            Outbox(client, namespace=settings.namespace),
            namespace=settings.namespace,
            config=AlertConfig.from_settings(settings),
            clock=clock,
            notifier=notifier,
        )

    def handle(self, event: Event) -> None:
        """Queue the alert ``event`` calls for (the bus acks the event afterwards)."""
        alert = alert_for(event, namespace=self.namespace)
        if alert is not None:
            self.outbox.put(alert, list(self._urls), now=self.clock.now())

    def deliver_due(self) -> int:
        """Try every delivery that is due; returns how many succeeded."""
        now = self.clock.now()
        sent = 0
        for member in self.outbox.claim(now=now, lease=self.config.lease):
            entry = json.loads(member)
            alert = Alert.model_validate(entry["alert"])
            url = self._urls.get(entry["target"])
            if url is None:
                log.warning("alert %r dropped: its target is no longer configured", alert.title)
                self.outbox.done(member, "dropped")
                continue
            try:
                self._notify(url, alert)
            except Exception as exc:
                self._failed(member, entry, alert, url, exc, now)
                continue
            self.outbox.done(member, "sent")
            sent += 1
            log.info("alert sent to %s: %s", describe_target(url), alert.title)
        return sent

    def _failed(
        self, member: str, entry: dict[str, Any], alert: Alert, url: str, exc: Exception, now: Any
    ) -> None:
        attempts = int(entry["attempts"]) + 1
        where = describe_target(url)
        if now - alert.occurred_at >= self.config.give_up_after:
            log.error(
                "alert %r to %s dropped after %d attempts: %s", alert.title, where, attempts, exc
            )
            self.outbox.done(member, "dropped")
            return
        delay = min(self.config.retry_base * 2 ** (attempts - 1), self.config.retry_max)
        log.warning(
            "alert %r to %s failed (attempt %d), retrying in %ds: %s",
            alert.title, where, attempts, delay.total_seconds(), exc,
        )  # fmt: skip
        self.outbox.again(member, {**entry, "attempts": attempts}, now + delay)

    def step(self, *, block_ms: int = 0) -> int:
        """Read new events (waiting up to ``block_ms``), then deliver what is due."""
        self.bus.poll(block_ms=block_ms)
        return self.deliver_due()

    def run(
        self, stop: threading.Event, *, on_error: Callable[[Exception], None] | None = None
    ) -> None:
        """Until ``stop`` is set. An outage (Redis down) is logged and waited out."""
        while not stop.is_set():
            try:
                self.step(block_ms=self.bus.config.block_ms * 5)
            except redis.RedisError as exc:
                log.warning("alerter: Redis unavailable (%s); retrying", type(exc).__name__)
                if on_error is not None:
                    on_error(exc)
                stop.wait(2.0)
