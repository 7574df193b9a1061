"""A trading session in plain Python, to be killed: ``python -m tests.chaos.engine_session``.

What the ``trading-engine`` flow does, without Prefect (so a restart takes about a second,
not a server start): take the account's engine lease (waiting while another session
holds it), then run engine cycles on the synthetic market at ``--speed`` (its clock
anchored in Redis, so a restart continues where the last session stopped), failing closed
while Redis is away. Each cycle prints one JSON line: the wall time, the cycle's submitted
orders, fills and resubmissions the ledger refused as duplicates, or the error that
made it place nothing. Settings come from ``QT_*``; ``CHAOS_LEASE_HOST`` makes the session
hold the lease as if it ran on that host.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime

from components.clock import make_clock
from components.engine import build_engine
from components.engine.lease import EngineLease, LeaseHolder
from components.engine.sim_clock import engine_clock
from components.errors import TemporaryError
from components.events import RedisEventBus
from components.market import open_market
from components.redis import connect
from components.settings import load_settings


def say(**fields: object) -> None:
    print(json.dumps({"wall": time.time(), "pid": os.getpid(), **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=None, help="Stop after this many.")
    parser.add_argument("--speed", type=float, default=3000.0)
    parser.add_argument("--interval", type=float, default=0.05, help="Seconds between cycles.")
    parser.add_argument("--lease-ttl", type=float, default=30.0, help="Engine lease TTL (s).")
    args = parser.parse_args()
    say(boot=True)  # the process has started and imported what it needs

    settings = load_settings()
    client = connect(settings)
    bus = RedisEventBus.connect(settings)
    lease = EngineLease(client, namespace=settings.namespace, ttl_s=args.lease_ttl)
    holder = LeaseHolder.this_process(f"chaos-{uuid.uuid4().hex[:8]}", now=datetime.now(UTC))
    if os.environ.get("CHAOS_LEASE_HOST"):  # a session on another machine (a lost worker)
        holder = holder.model_copy(update={"host": os.environ["CHAOS_LEASE_HOST"]})
    while (other := lease.acquire(holder)) is not None:
        say(waiting=other.session)
        time.sleep(0.1)
    clock = engine_clock(
        client, settings.namespace, speed=args.speed, start=make_clock(settings.clock)
    )
    engine = build_engine(settings, open_market(settings.market, clock=clock), bus=bus)
    say(started=holder.session)
    cycle = 0
    with lease.hold(holder) as held:
        while args.cycles is None or cycle < args.cycles:
            if held.lost_to is not None:
                say(lost_to=held.lost_to.session)
                break
            started = time.monotonic()
            began = time.time()  # the wall time the cycle started (its line ends it)
            try:
                if not held.is_held():
                    raise TemporaryError("the engine lease could not be renewed")
                report = engine.run_cycle(cycle)
                duplicates = sum(1 for o in report.orders if o.outcome == "duplicate")
                say(
                    cycle=cycle,
                    began=began,
                    submitted=report.submitted,
                    fills=report.fills,
                    dup=duplicates,
                )
            except TemporaryError as exc:  # Redis away: nothing placed; try the next cycle
                say(cycle=cycle, began=began, error=str(exc)[:200])
            cycle += 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    say(ended=cycle)


if __name__ == "__main__":
    main()
