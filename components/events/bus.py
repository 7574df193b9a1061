"""What every event bus offers, whatever carries the events.

Delivery is at-least-once per consumer *group*: each group sees each event of the types it
subscribed to, a handler's exception never stops the loop, a failed event is retried
``max_retries`` times with backoff and then moved to the dead-letter stream. Handlers
receive the whole :class:`Event`, so they can use ``event.id`` to stay idempotent.

Mirrors are hooks called with every published event after it is stored (the Prefect
mirror lives in ``tasks/``); a mirror's exception is logged and counted, never raised.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from components.errors import ConfigurationError
from components.events.config import BusConfig
from components.events.models import Event, event_types, payload_model

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
Mirror = Callable[[Event], None]

ALL_TYPES = "*"

Outcome = Literal["ok", "dead", "retry"]


class GroupStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    pending: int
    lag: int


class BusStats(BaseModel):
    """Counters across every process using the bus (Redis) or this bus (in-memory).

    ``lag`` counts events some group has not yet acknowledged: never delivered plus
    delivered but pending.
    """

    model_config = ConfigDict(frozen=True)

    published: int
    delivered: int
    failed: int
    dead_lettered: int
    lag: int
    mirror_failures: int = 0
    groups: dict[str, GroupStats] = {}


@dataclass(frozen=True, slots=True)
class Subscription:
    group: str
    event_type: str
    handler: Handler


@dataclass(order=True)
class _Retry:
    due: float
    seq: int
    group: str = field(compare=False)
    ref: Any = field(compare=False)  # where the event lives: a stream entry id, or the event
    event: Event = field(compare=False)
    attempt: int = field(compare=False)  # attempts made so far


class EventBus(ABC):
    """The interface both buses keep; see the module docstring for the guarantees."""

    def __init__(self, config: BusConfig) -> None:
        self.config = config
        self._mirrors: list[Mirror] = []
        self._mirror_failures = 0
        self._handlers: dict[str, dict[str, Handler]] = {}  # group -> type -> handler
        self._retries: list[_Retry] = []
        self._seq = itertools.count()

    # --- publishing -------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Store one event; then hand it to the mirrors."""
        self.publish_many([event])

    def publish_many(self, events: Sequence[Event]) -> None:
        """Store many events in one round trip (pipelined on Redis); then mirror them."""
        if not events:
            return
        for event in events:
            payload_model(event.type)  # unknown types fail before anything is stored
        self._store(events)
        self.notify_mirrors(events)

    @abstractmethod
    def _store(self, events: Sequence[Event]) -> None: ...

    def add_mirror(self, mirror: Mirror) -> None:
        """Call ``mirror(event)`` after every publish (failures are logged, never raised)."""
        self._mirrors.append(mirror)

    def notify_written(self, events: Sequence[Event]) -> None:
        """Events an atomic writer (a ledger, PolicyStore or ESS script, through
        :data:`~components.events.streams.LUA_EMIT`) already put on the Redis streams of
        this namespace: a bus that reads those streams only mirrors them; one that does not
        (in-memory) also delivers them to its subscribers, as if published here."""
        if events:
            self._store(events)
            self.notify_mirrors(events)

    def notify_mirrors(self, events: Iterable[Event]) -> None:
        """Hand events to the mirrors (after a publish, or :meth:`notify_written`)."""
        for mirror in self._mirrors:
            for event in events:
                try:
                    mirror(event)
                except Exception as exc:  # a mirror must never fail a publish
                    self._mirror_failures += 1
                    log.warning("event mirror %r failed on %s: %s", mirror, event.type, exc)

    # --- consuming --------------------------------------------------------------------
    def subscribe(
        self,
        event_type: str | Sequence[str],
        handler: Handler,
        *,
        group: str = "default",
        from_start: bool = False,
    ) -> None:
        """Deliver events of ``event_type`` (``"*"`` = every type) to ``handler`` in ``group``.

        Each group sees each event once (at least once under failure); separate groups
        each see every event. A new group starts with the events published after it was
        created, or, with ``from_start``, with every event the streams still hold (on
        the in-memory bus there is no past to replay). An existing group resumes where
        it stopped either way.
        """
        types = [event_type] if isinstance(event_type, str) else list(event_type)
        if not group or not group.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigurationError(f"group {group!r} must be letters, digits, '-', '_', '.'")
        expanded: list[str] = []
        for name in types:
            if name == ALL_TYPES:
                expanded.extend(event_types())
            else:
                payload_model(name)
                expanded.append(name)
        handlers = self._handlers.setdefault(group, {})
        for name in expanded:
            if name in handlers and handlers[name] is not handler:
                raise ConfigurationError(
                    f"group {group!r} already has a handler for {name!r}; "
                    "use another group for a second handler"
                )
            handlers[name] = handler
        self._create_groups(group, expanded, from_start=from_start)

    def _create_groups(  # noqa: B027
        self, group: str, event_types: list[str], *, from_start: bool = False
    ) -> None:
        """Hook: make the server-side group exist (Redis)."""

    @property
    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(group, event_type, handler)
            for group, handlers in self._handlers.items()
            for event_type, handler in handlers.items()
        ]

    @abstractmethod
    def poll(self, *, block_ms: int = 0) -> int:
        """Deliver what is ready (waiting up to ``block_ms`` for new events); returns the
        number of handler calls made."""

    def run(self, stop: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set (or forever, until KeyboardInterrupt)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            self.poll(block_ms=self._wait_ms())

    @abstractmethod
    def stats(self) -> BusStats: ...

    @abstractmethod
    def tail(self, event_type: str | None = None, *, count: int = 10) -> list[Event]:
        """The last ``count`` events (of ``event_type``, or of every type), newest last."""

    def close(self) -> None:  # noqa: B027
        """Release connections; the bus is unusable afterwards."""

    # --- shared delivery logic --------------------------------------------------------
    def _handle(self, group: str, event: Event, attempt: int) -> tuple[Outcome, str]:
        """Call the group's handler on attempt number ``attempt`` (1 = first delivery).

        Returns ``("ok", "")`` when it succeeded (or this process has no handler for the
        type in that group), ``("retry", error)`` when it failed and has retries left, and
        ``("dead", error)`` when it failed for the last time: the caller dead-letters it.
        """
        handler = self._handlers.get(group, {}).get(event.type)
        if handler is None:
            return "ok", ""
        try:
            handler(event)
        except Exception as exc:
            self._count_failure()
            error = f"{type(exc).__name__}: {exc}"
            if attempt > self.config.max_retries:
                log.error(
                    "group %s gave up on %s %s after %d attempts; dead-lettered: %s",
                    group, event.type, event.id, attempt, error,
                )  # fmt: skip
                return "dead", error
            log.warning(
                "group %s failed on %s %s (attempt %d of %d): %s",
                group, event.type, event.id, attempt, self.config.max_retries + 1, error,
            )  # fmt: skip
            return "retry", error
        return "ok", ""

    def _schedule_retry(self, group: str, ref: Any, event: Event, attempt: int) -> None:
        backoff = self.config.retry_backoff_ms * 2 ** (attempt - 1) / 1000
        heapq.heappush(
            self._retries,
            _Retry(time.monotonic() + backoff, next(self._seq), group, ref, event, attempt),
        )

    def _due_retries(self) -> list[_Retry]:
        now = time.monotonic()
        due = []
        while self._retries and self._retries[0].due <= now:
            due.append(heapq.heappop(self._retries))
        return due

    def _wait_ms(self) -> int:
        """How long a poll may block: the block time, or less when a retry is due sooner."""
        if not self._retries:
            return self.config.block_ms
        until = (self._retries[0].due - time.monotonic()) * 1000
        return max(1, min(self.config.block_ms, int(until)))

    @abstractmethod
    def _count_failure(self) -> None: ...
