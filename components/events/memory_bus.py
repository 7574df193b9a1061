"""An in-process bus with the same interface and delivery rules as the Redis one.

Use it inside one process (the accelerated demo, unit tests of components that publish);
nothing survives the process. Publishing and consuming may happen on different threads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from components.events.bus import BusConfig, BusStats, EventBus, GroupStats
from components.events.models import Event


class InMemoryEventBus(EventBus):
    """In-process :class:`EventBus`; the dead-letter queue is :attr:`dead_letters`."""

    def __init__(self, config: BusConfig | None = None) -> None:
        super().__init__(config or BusConfig())
        self._history: deque[Event] = deque(maxlen=self.config.stream_maxlen)
        self._queues: dict[str, deque[Event]] = {}
        self._routes: dict[str, list[deque[Event]]] = {}  # type -> queues of groups that want it
        self._wakeup = threading.Condition()
        self.dead_letters: list[tuple[str, Event, int, str]] = []  # group, event, attempts, error
        self._published = self._delivered = self._failed = 0

    def _store(self, events: Sequence[Event]) -> None:
        history, routes = self._history, self._routes
        for event in events:
            history.append(event)
            for queue in routes.get(event.type, ()):
                queue.append(event)
        self._published += len(events)
        with self._wakeup:
            self._wakeup.notify_all()

    def _create_groups(
        self, group: str, event_types: list[str], *, from_start: bool = False
    ) -> None:
        queue = self._queues.setdefault(group, deque())
        for event_type in event_types:
            targets = self._routes.setdefault(event_type, [])
            if not any(q is queue for q in targets):
                targets.append(queue)

    def poll(self, *, block_ms: int = 0) -> int:
        handled = 0
        for retry in self._due_retries():
            handled += 1
            self._deliver(retry.group, retry.event, retry.attempt + 1)
        if block_ms and not any(self._queues.values()):
            with self._wakeup:
                self._wakeup.wait_for(lambda: any(self._queues.values()), block_ms / 1000)
        for group, queue in self._queues.items():
            for _ in range(len(queue)):
                handled += 1
                self._deliver(group, queue.popleft(), 1)
        return handled

    def _deliver(self, group: str, event: Event, attempt: int) -> None:
        outcome, error = self._handle(group, event, attempt)
        if outcome == "ok":
            self._delivered += 1
        elif outcome == "retry":
            self._schedule_retry(group, None, event, attempt)
        else:
            self.dead_letters.append((group, event, attempt, error))

    def _count_failure(self) -> None:
        self._failed += 1

    def stats(self) -> BusStats:
        pending: dict[str, int] = {group: len(queue) for group, queue in self._queues.items()}
        for retry in self._retries:
            pending[retry.group] = pending.get(retry.group, 0) + 1
        groups = {g: GroupStats(pending=n, lag=n) for g, n in pending.items()}
        return BusStats(
            published=self._published,
            delivered=self._delivered,
            failed=self._failed,
            dead_lettered=len(self.dead_letters),
            lag=sum(pending.values()),
            mirror_failures=self._mirror_failures,
            groups=groups,
        )

    def tail(self, event_type: str | None = None, *, count: int = 10) -> list[Event]:
        events = [e for e in self._history if event_type is None or e.type == event_type]
        return events[-count:] if count > 0 else []
