"""The engine lease: one trading session per account, on a real Redis."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import redis

from components.engine.lease import EngineLease, LeaseHolder, process_alive

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def other_host(session: str, pid: int = 1) -> LeaseHolder:
    return LeaseHolder(session=session, host="elsewhere.invalid", pid=pid, since=NOW)


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_the_first_session_takes_the_lease_and_the_next_one_is_told_who_holds_it(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace)
    first, second = other_host("run-1"), other_host("run-2")

    assert lease.acquire(first) is None
    assert lease.acquire(second) == first
    assert lease.holder() == first
    assert client.pttl(f"{namespace}:engine:lease") > 0


def test_only_the_holder_renews_or_releases(client: redis.Redis, namespace: str) -> None:
    lease = EngineLease(client, namespace=namespace)
    holder, intruder = other_host("run-1"), other_host("run-2")
    lease.acquire(holder)

    assert not lease.renew(intruder)
    assert not lease.release(intruder)
    assert lease.holder() == holder
    assert lease.renew(holder)
    assert lease.release(holder)
    assert lease.holder() is None


def test_a_dead_holder_on_this_host_is_replaced_at_once(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=600)
    dead = LeaseHolder.this_process("run-1", now=NOW).model_copy(update={"pid": dead_pid()})
    assert process_alive(dead) is False
    lease.acquire(dead)

    mine = LeaseHolder.this_process("run-2", now=NOW)
    assert lease.acquire(mine) is None
    assert lease.holder() == mine


def test_a_silent_holder_elsewhere_keeps_the_lease_until_its_ttl_passes(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=0.5)
    silent = other_host("run-1")
    lease.acquire(silent)
    mine = LeaseHolder.this_process("run-2", now=NOW)

    assert lease.acquire(mine) == silent  # unknown host: never presumed dead
    deadline = time.monotonic() + 10
    while lease.acquire(mine) is not None:
        assert time.monotonic() < deadline, "the lease outlived its TTL"
        time.sleep(0.05)
    assert lease.holder() == mine


def test_of_many_sessions_starting_together_exactly_one_holds_the_lease(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace)
    winners: list[str] = []
    start = threading.Barrier(8)

    def contend(i: int) -> None:
        start.wait()
        if lease.acquire(other_host(f"run-{i}")) is None:
            winners.append(f"run-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(winners) == 1
    held = lease.holder()
    assert held is not None and held.session == winners[0]


def test_a_held_lease_is_renewed_and_released_at_the_end(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=0.3)
    holder = LeaseHolder.this_process("run-1", now=NOW)
    assert lease.acquire(holder) is None

    with lease.hold(holder) as held:
        time.sleep(1.0)  # over three TTLs: only the renewals keep it
        assert held.is_held()
        assert lease.holder() == holder
    assert lease.holder() is None


def test_a_lease_taken_by_another_session_is_lost_for_good(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=60)
    mine, other = LeaseHolder.this_process("run-1", now=NOW), other_host("run-2")
    lease.acquire(mine)
    with lease.hold(mine) as held:
        client.set(lease.key, other.model_dump_json(), px=60_000)  # e.g. it expired meanwhile
        held.refresh()
        assert not held.is_held()
        assert held.lost_to == other
        client.delete(lease.key)
        held.refresh()
        assert held.lost_to == other  # once lost, this session stops
    assert lease.holder() is None or lease.holder() != mine


def test_a_lease_that_vanished_with_a_redis_restart_is_taken_again(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=60)
    mine = LeaseHolder.this_process("run-1", now=NOW)
    lease.acquire(mine)
    with lease.hold(mine) as held:
        client.delete(lease.key)  # Redis restarted without its data
        held.refresh()
        assert held.is_held()
        assert lease.holder() == mine


def test_only_a_dead_holder_s_lease_is_released_by_others(
    client: redis.Redis, namespace: str
) -> None:
    lease = EngineLease(client, namespace=namespace, ttl_s=600)
    assert lease.release_dead() is None  # free

    alive = LeaseHolder.this_process("run-1", now=NOW)
    lease.acquire(alive)
    assert lease.release_dead() is None and lease.holder() == alive
    lease.release(alive)

    elsewhere = other_host("run-2", pid=dead_pid())  # unknown there: it may still trade
    lease.acquire(elsewhere)
    assert lease.release_dead() is None and lease.holder() == elsewhere
    lease.release(elsewhere)

    dead = alive.model_copy(update={"pid": dead_pid()})
    lease.acquire(dead)
    assert lease.release_dead() == dead
    assert lease.holder() is None
