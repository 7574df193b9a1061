"""The engine lease: at most one engine session trades an account at any time.

Prefect's deployment concurrency limit starts one ``trading-engine`` session at a time, but
it counts flow runs, not processes: an orphaned session (its ``serve`` or worker gone), a
foreground ``engine run`` beside a served one, or a slot released twice would let two
sessions trade the same account. The lease makes the rule hold where the account lives,
in Redis, whatever runs the sessions.

Key layout (one key per namespace)::

    <ns>:engine:lease   JSON of the holder {session, host, pid, since}, with a TTL

- ``acquire`` is ``SET NX PX``: the first session takes the lease; the others wait.
- The holder renews it every ``ttl / 3`` from a thread (:meth:`EngineLease.hold`), so a
  session whose process dies (SIGKILL, a lost machine) loses it within ``ttl`` seconds.
- A holder on *this* host whose process no longer exists is dead at once: a new session
  takes its lease over without waiting for the TTL (compare-and-set on the old value), and
  ``release_dead`` frees it (``up`` does, after stopping the sessions it ran: one still in
  its cycle when ``up``'s grace runs out, on a loaded host, is SIGKILLed with serve's group).
- ``renew`` and ``release`` are compare-and-write scripts: a session never renews or
  deletes a lease another session holds. A session that finds its lease gone or taken
  stops trading (fail closed) and says why.

    >>> lease = EngineLease(client, namespace="qt")
    >>> with lease.hold(LeaseHolder.this_process("run-1", now=now)) as held:
    ...     while held.is_held():
    ...         ...  # one cycle
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.redis import namespaced

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class LeaseHolder(BaseModel):
    """Who holds the engine lease: the session (a flow run id), its host and process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    session: str = Field(min_length=1, max_length=200)
    host: str = Field(min_length=1, max_length=255)
    pid: int = Field(gt=0)
    since: AwareDatetime

    @classmethod
    def this_process(cls, session: str, *, now: datetime) -> LeaseHolder:
        """A holder for ``session`` run by this process on this host."""
        return cls(session=session, host=socket.gethostname(), pid=os.getpid(), since=now)

    def describe(self) -> str:
        """E.g. ``session 0a35ff0b (host1 pid 4242, since 12:03:05 UTC)``."""
        where = f"{self.host} pid {self.pid}, since {self.since:%H:%M:%S} UTC"
        return f"session {self.session} ({where})"


def process_alive(holder: LeaseHolder) -> bool | None:
    """Whether the holder's process exists: None when it runs on another host (unknown)."""
    if holder.host != socket.gethostname():
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class EngineLease:
    """The engine lease of one namespace (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, namespace: str, ttl_s: float = 30.0) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self._r: Any = client
        self.key = namespaced(namespace, "engine", "lease")
        self.ttl_ms = int(ttl_s * 1000)
        self._renew = self._r.register_script(_RENEW)
        self._release = self._r.register_script(_RELEASE)
        self._take_over = self._r.register_script(_TAKE_OVER)

    def holder(self) -> LeaseHolder | None:
        """The current holder, or None when the lease is free."""
        raw = self._r.get(self.key)
        return LeaseHolder.model_validate_json(raw) if raw else None

    def acquire(
        self,
        holder: LeaseHolder,
        *,
        alive: Callable[[LeaseHolder], bool | None] = process_alive,
    ) -> LeaseHolder | None:
        """Take the lease for ``holder``; returns None when taken, else who holds it.

        A holder whose process is known to be dead (``alive`` returns False) is replaced.
        """
        value = holder.model_dump_json()
        if self._r.set(self.key, value, nx=True, px=self.ttl_ms):
            return None
        raw = self._r.get(self.key)
        if raw is None:  # released between our two calls: try once more
            return None if self._r.set(self.key, value, nx=True, px=self.ttl_ms) else self.holder()
        current = LeaseHolder.model_validate_json(raw)
        if current == holder.model_copy(update={"since": current.since}):
            return None  # already ours
        if alive(current) is False and self._take_over(
            keys=[self.key], args=[raw, value, self.ttl_ms]
        ):
            return None
        return current

    def renew(self, holder: LeaseHolder) -> bool:
        """Extend the lease by the TTL; False when ``holder`` no longer holds it."""
        return bool(self._renew(keys=[self.key], args=[holder.model_dump_json(), self.ttl_ms]))

    def release(self, holder: LeaseHolder) -> bool:
        """Give the lease up; False when ``holder`` did not hold it."""
        return bool(self._release(keys=[self.key], args=[holder.model_dump_json()]))

    def release_dead(
        self, *, alive: Callable[[LeaseHolder], bool | None] = process_alive
    ) -> LeaseHolder | None:
        """Free the lease of a holder whose process is known to be dead (killed before it
        could release it); return that holder, or None when the lease is free, its holder
        alive or on another host. A compare-and-delete: a lease taken since is kept."""
        raw = self._r.get(self.key)
        if raw is None:
            return None
        current = LeaseHolder.model_validate_json(raw)
        if alive(current) is not False:
            return None
        return current if self._release(keys=[self.key], args=[raw]) else None

    @contextlib.contextmanager
    def hold(self, holder: LeaseHolder) -> Iterator[HeldLease]:
        """Keep ``holder``'s lease renewed from a thread until the block ends, then release.

        The lease must have been acquired first (:meth:`acquire` returned None).
        """
        held = HeldLease(self, holder)
        thread = threading.Thread(target=held.keep, name="engine-lease", daemon=True)
        thread.start()
        try:
            yield held
        finally:
            held.stop.set()
            thread.join(timeout=5)
            with contextlib.suppress(redis.RedisError):
                self.release(holder)


class HeldLease:
    """A lease being renewed.

    :meth:`is_held` is True while the renewals succeed. When Redis does not answer it is
    False (no order could be placed anyway) and the renewals go on; when the lease expired
    or Redis came back empty it is taken again; when another session took it, ``lost_to``
    names that session and it stays lost (this session must stop trading).
    """

    def __init__(self, lease: EngineLease, holder: LeaseHolder) -> None:
        self.lease = lease
        self.holder = holder
        self.stop = threading.Event()
        self.lost_to: LeaseHolder | None = None
        self._held = True

    def is_held(self) -> bool:
        return self._held and self.lost_to is None

    def keep(self) -> None:
        """Renew every third of the TTL until stopped or lost."""
        every = self.lease.ttl_ms / 3000
        while not self.stop.wait(every) and self.lost_to is None:
            self.refresh()

    def refresh(self) -> None:
        """One renewal (what the thread does every third of the TTL)."""
        try:
            if self.lease.renew(self.holder):
                self._held = True
                return
            other = self.lease.acquire(self.holder)  # expired, or Redis came back empty
        except redis.RedisError:
            self._held = False
            return
        if other is None:
            self._held = True
        else:
            self._held = False
            self.lost_to = other
