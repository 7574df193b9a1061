"""The EventBus on Redis Streams: one stream per event type, consumer groups, at-least-once.

Keys and fields: :mod:`components.events.streams` (one stream per event type, a
dead-letter stream, shared counters).

Delivery: a consumer reads new entries with XREADGROUP, acks each after its handler
succeeds, retries a failed one after a backoff (XCLAIM to itself, so the server counts the
delivery), and after ``max_retries`` retries moves it to the dead-letter stream. Entries a
consumer left pending for ``claim_idle_ms`` (it died, or hangs) are claimed by another
consumer of the group; an entry already delivered more than ``max_retries + 1`` times is
dead-lettered without being run again, so a poison event cannot kill consumer after
consumer.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from components.errors import DataError
from components.events.bus import BusConfig, BusStats, EventBus, GroupStats
from components.events.models import Event, event_types
from components.events.streams import (
    LUA_PUBLISH,
    dead_letter_key,
    decode_event,
    publish_args,
    stats_key,
    stream_key,
)

if TYPE_CHECKING:
    from components.settings import Settings

log = logging.getLogger(__name__)


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class RedisEventBus(EventBus):
    """:class:`EventBus` on Redis Streams; see the module docstring.

    ``client`` must decode responses (``connect(settings)`` does).
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        config: BusConfig | None = None,
        consumer: str | None = None,
    ) -> None:
        super().__init__(config or BusConfig())
        self.client = client
        # redis-py types responses as unions of bytes/str/int; this client decodes them
        self._r: Any = client
        self.namespace = namespace
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._stats_key = stats_key(namespace)
        self._dead_key = dead_letter_key(namespace)
        self._streams: dict[str, str] = {t: stream_key(namespace, t) for t in event_types()}
        self._types_by_stream = {v: k for k, v in self._streams.items()}
        self._group_streams: dict[str, list[str]] = {}
        self._claim_due = 0.0
        self._publish = client.register_script(LUA_PUBLISH)

    @classmethod
    def connect(cls, settings: Settings, **kwargs: Any) -> RedisEventBus:
        """A bus on the configured server (``QT_REDIS_URL`` or the embedded one)."""
        from components.redis import connect

        return cls(
            connect(settings),
            namespace=settings.namespace,
            config=settings.bus,
            **kwargs,
        )

    def _stream(self, event_type: str) -> str:
        key = self._streams.get(event_type)
        if key is None:  # registered after this bus was made
            key = self._streams[event_type] = stream_key(self.namespace, event_type)
            self._types_by_stream[key] = event_type
        return key

    # --- publishing -------------------------------------------------------------------
    def _store(self, events: Sequence[Event]) -> None:
        keys, args = publish_args(self.namespace, events, maxlen=self.config.stream_maxlen)
        self._publish(keys=keys, args=args)

    def notify_written(self, events: Sequence[Event]) -> None:
        """Events a script already put on the streams: consumers read them there; only the
        mirrors are told."""
        self.notify_mirrors(events)

    # --- consuming --------------------------------------------------------------------
    def _create_groups(
        self, group: str, event_types: list[str], *, from_start: bool = False
    ) -> None:
        streams = self._group_streams.setdefault(group, [])
        for event_type in event_types:
            key = self._stream(event_type)
            if key in streams:
                continue
            try:
                self._r.xgroup_create(key, group, id="0" if from_start else "$", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            streams.append(key)

    def poll(self, *, block_ms: int = 0) -> int:
        handled = 0
        if self._claim_due <= _now():
            self._claim_due = _now() + self.config.claim_idle_ms / 4000
            handled += self._reclaim()
        for retry in self._due_retries():
            handled += self._retry(retry.group, retry.ref, retry.attempt + 1)
        groups = list(self._group_streams.items())
        wait = block_ms // len(groups) if groups and block_ms else 0
        for group, streams in groups:
            handled += self._read(group, streams, wait)
        return handled

    def _read(self, group: str, streams: list[str], wait_ms: int) -> int:
        """Handle the new entries of ``group``'s streams, waiting up to ``wait_ms`` for the
        first. The acks of a batch travel with the next read (one round trip per batch
        while events keep coming, waiting a millisecond for more); when this returns,
        every entry handled is acked."""
        handled = 0
        acks: list[_Acks] = []
        block = wait_ms or None  # None: do not wait (0 would wait forever)
        for _ in range(_BATCHES_PER_READ):
            pipe = self._r.pipeline(transaction=False)
            self._queue_acks(pipe, group, acks)
            pipe.xreadgroup(
                group,
                self.consumer,
                dict.fromkeys(streams, ">"),
                count=self.config.batch_size,
                block=block,
            )
            response = pipe.execute()[-1]
            if not response:
                return handled
            acks = [self._handle_batch(group, stream, entries) for stream, entries in response]
            handled += sum(len(entries) for _, entries in response)
            block = 1 if wait_ms else None
        pipe = self._r.pipeline(transaction=False)
        if self._queue_acks(pipe, group, acks):
            pipe.execute()
        return handled

    def _queue_acks(self, pipe: Any, group: str, acks: list[_Acks]) -> bool:
        """Queue the acks (and the delivered count) on ``pipe``; whether there were any."""
        delivered = sum(a.delivered for a in acks)
        for a in acks:
            if a.ids:
                pipe.xack(a.stream, group, *a.ids)
        if delivered:
            pipe.hincrby(self._stats_key, "delivered", delivered)
        return any(a.ids for a in acks)

    def _process(
        self,
        group: str,
        stream: str,
        entries: list[tuple[str, dict[str, str] | None]],
        *,
        first_attempt: int,
        attempts: dict[str, int] | None = None,
    ) -> int:
        """Run the handler on each entry; ack successes in one round trip."""
        acks = self._handle_batch(
            group, stream, entries, first_attempt=first_attempt, attempts=attempts
        )
        pipe = self._r.pipeline(transaction=False)
        if self._queue_acks(pipe, group, [acks]):
            pipe.execute()
        return len(entries)

    def _handle_batch(
        self,
        group: str,
        stream: str,
        entries: list[tuple[str, dict[str, str] | None]],
        *,
        first_attempt: int = 1,
        attempts: dict[str, int] | None = None,
    ) -> _Acks:
        """Run the handler on each entry; return what to ack (successes, and what was
        dead-lettered without its own ack)."""
        acks: list[str] = []
        delivered = 0
        for entry_id, fields in entries:
            if not fields:  # trimmed away while pending: nothing left to deliver
                acks.append(entry_id)
                continue
            attempt = (attempts or {}).get(entry_id, first_attempt)
            try:
                event = decode_event(fields)
            except DataError as exc:
                self._dead_letter(group, stream, entry_id, fields, attempt, str(exc))
                acks.append(entry_id)
                continue
            if attempt > self.config.max_retries + 1:
                # delivered that often without an ack: it kills or hangs its consumers
                error = f"delivered {attempt - 1} times without an ack (its consumers died)"
                log.error("group %s dead-letters %s %s: %s", group, event.type, event.id, error)
                self._dead_letter(group, stream, entry_id, fields, attempt - 1, error)
                continue
            outcome, error = self._handle(group, event, attempt)
            if outcome == "ok":
                acks.append(entry_id)
                delivered += 1
            elif outcome == "retry":
                self._schedule_retry(group, (stream, entry_id), event, attempt)
            else:
                self._dead_letter(group, stream, entry_id, fields, attempt, error)
        return _Acks(stream, acks, delivered)

    def _retry(self, group: str, ref: tuple[str, str], attempt: int) -> int:
        stream, entry_id = ref
        # XCLAIM to ourselves: resets the idle time (so nobody else takes it) and makes the
        # server count this delivery, which survives us if we die mid-retry.
        claimed = self._r.xclaim(stream, group, self.consumer, 0, [entry_id])
        if not claimed:  # acked or trimmed meanwhile
            return 0
        return self._process(group, stream, claimed, first_attempt=attempt)

    def _reclaim(self) -> int:
        """Take over entries other consumers of our groups left pending too long."""
        handled = 0
        idle = self.config.claim_idle_ms
        for group, streams in self._group_streams.items():
            for stream in streams:
                pending = self._r.xpending_range(
                    stream, group, min="-", max="+", count=self.config.batch_size, idle=idle
                )
                stale = [p for p in pending if p["consumer"] != self.consumer]
                if not stale:
                    continue
                deliveries = {p["message_id"]: int(p["times_delivered"]) for p in stale}
                claimed = self._r.xclaim(stream, group, self.consumer, idle, list(deliveries))
                if not claimed:
                    continue
                log.warning(
                    "group %s: reclaimed %d events of %s left pending by other consumers",
                    group, len(claimed), stream,
                )  # fmt: skip
                # this delivery is attempt number (earlier deliveries + 1)
                attempts = {entry_id: deliveries.get(entry_id, 0) + 1 for entry_id, _ in claimed}
                handled += self._process(group, stream, claimed, first_attempt=1, attempts=attempts)
        return handled

    def _count_failure(self) -> None:
        self._r.hincrby(self._stats_key, "failed", 1)

    def _dead_letter(
        self,
        group: str,
        stream: str,
        entry_id: str,
        fields: dict[str, str],
        attempts: int,
        error: str,
    ) -> None:
        """Move one entry to the dead-letter stream and ack it, in one transaction."""
        record = {
            **fields,
            "dl_group": group,
            "dl_stream": stream,
            "dl_entry": entry_id,
            "dl_error": error[:2000],
            "dl_attempts": str(attempts),
        }
        pipe = self._r.pipeline(transaction=True)
        pipe.xadd(self._dead_key, record, maxlen=self.config.stream_maxlen, approximate=True)
        pipe.xack(stream, group, entry_id)
        pipe.hincrby(self._stats_key, "dead_lettered", 1)
        event_type = self._types_by_stream.get(stream, stream.rsplit(":", 1)[-1])
        pipe.hincrby(self._stats_key, f"dead_lettered:{event_type}", 1)  # per type, for metrics
        pipe.execute()

    def dead_letters(self, *, count: int = 100) -> list[dict[str, str]]:
        """The newest dead-lettered entries (fields plus ``dl_group``, ``dl_error``, ...)."""
        return [fields for _, fields in self._r.xrevrange(self._dead_key, count=count)]

    # --- reading ----------------------------------------------------------------------
    def tail_entries(
        self, event_type: str | None = None, *, count: int = 10
    ) -> list[tuple[str, Event]]:
        """Like :meth:`tail`, with each event's stream entry id (``"<ms>-<seq>"``), which
        :meth:`cursors` accepts as ``after`` to resume from."""
        if count <= 0:
            return []
        streams = [self._stream(event_type)] if event_type else list(self._streams.values())
        pipe = self._r.pipeline(transaction=False)
        for stream in streams:
            pipe.xrevrange(stream, count=count)
        entries = [entry for result in pipe.execute() for entry in result]
        entries.sort(key=lambda entry: _entry_order(entry[0]))
        return [(entry_id, decode_event(fields)) for entry_id, fields in entries[-count:]]

    def tail(self, event_type: str | None = None, *, count: int = 10) -> list[Event]:
        return [event for _, event in self.tail_entries(event_type, count=count)]

    def cursors(self, event_type: str | None = None, *, after: str | None = None) -> dict[str, str]:
        """Read positions for :meth:`read`, one per stream of ``event_type`` (or of every type).

        Without ``after``: the newest entry of each stream now, so :meth:`read` returns only
        what is published from here on. With ``after`` (an entry id :meth:`read` or
        :meth:`tail_entries` gave): every entry of that millisecond or later, so a reader
        that resumes misses nothing; entries of that same millisecond may come again (the
        streams are separate, their ids do not order entries of one millisecond), and the
        event ids tell them apart.

        Raises
        ------
        DataError
            ``after`` is not an entry id.
        """
        streams = [self._stream(event_type)] if event_type else list(self._streams.values())
        if after is not None:
            try:
                ms, _ = _entry_order(after)
            except ValueError:
                raise DataError(f"{after!r} is not an event position (<ms>-<seq>)") from None
            start = f"{ms - 1}-18446744073709551615" if ms > 0 else "0-0"
            return dict.fromkeys(streams, start)
        pipe = self._r.pipeline(transaction=False)
        for stream in streams:
            pipe.xrevrange(stream, count=1)
        return {
            stream: (last[0][0] if last else "0-0")
            for stream, last in zip(streams, pipe.execute(), strict=True)
        }

    def read(self, cursors: dict[str, str], *, block_ms: int) -> list[tuple[str, Event]]:
        """The entries after ``cursors`` (waiting up to ``block_ms`` for one), oldest first,
        with their entry ids; ``cursors`` move past what is returned."""
        response = self._r.xread(cursors, count=self.config.batch_size, block=block_ms)
        batch = []
        for stream, entries in response or ():
            for entry_id, fields in entries:
                cursors[stream] = entry_id
                batch.append((entry_id, fields))
        batch.sort(key=lambda entry: _entry_order(entry[0]))
        return [(entry_id, decode_event(fields)) for entry_id, fields in batch]

    def follow(
        self, event_type: str | None = None, *, block_ms: int | None = None
    ) -> Iterator[Event]:
        """Yield every event published after this call, as it arrives (``events tail
        --follow``). The starting point is fixed now, not at the first ``next()``, so
        nothing published in between is missed. The iterator never ends by itself."""
        return self._follow(self.cursors(event_type), block_ms or self.config.block_ms)

    def _follow(self, cursors: dict[str, str], block_ms: int) -> Iterator[Event]:
        while True:
            for _, event in self.read(cursors, block_ms=block_ms):
                yield event

    def counters(self) -> dict[str, int]:
        """The shared counters: ``published``, ``delivered``, ``failed``, ``dead_lettered``
        and ``dead_lettered:<type>``."""
        return {k: int(v) for k, v in self._r.hgetall(self._stats_key).items()}

    def stats(self) -> BusStats:
        counters = self.counters()
        groups: dict[str, dict[str, int]] = {}
        for stream in self._streams.values():
            try:
                infos = self._r.xinfo_groups(stream)
            except redis.ResponseError:  # no such stream yet
                continue
            for info in infos:
                lag = info.get("lag")
                if lag is None:  # Redis < 7: count what the group has not been given yet
                    last = info["last-delivered-id"]
                    lag = len(self._r.xrange(stream, min=f"({last}", max="+", count=100_000))
                entry = groups.setdefault(info["name"], {"pending": 0, "lag": 0})
                entry["pending"] += int(info["pending"])
                entry["lag"] += int(lag or 0) + int(info["pending"])
        return BusStats(
            published=counters.get("published", 0),
            delivered=counters.get("delivered", 0),
            failed=counters.get("failed", 0),
            dead_lettered=counters.get("dead_lettered", 0),
            lag=sum(g["lag"] for g in groups.values()),
            mirror_failures=self._mirror_failures,
            groups={name: GroupStats(**values) for name, values in groups.items()},
        )

    def close(self) -> None:
        self.client.close()


_BATCHES_PER_READ = 64  # then the acks go alone, and poll's other duties get their turn


@dataclass(frozen=True)
class _Acks:
    """Entries of one stream to ack, and how many of them were delivered."""

    stream: str
    ids: list[str]
    delivered: int


def _now() -> float:
    return time.monotonic()
