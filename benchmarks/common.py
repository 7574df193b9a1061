"""Shared plumbing for the benchmark scripts: a real Redis server, a scratch namespace, and
one way to print a figure beside its anchor.

Each script runs on ``QT_REDIS_URL`` (or ``QT_TEST_REDIS_URL``) when set, otherwise on the
embedded server under ``QT_HOME``, in a namespace of its own that it deletes afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import redis

from components.redis import connect, delete_namespace
from components.settings import Settings, load_settings


@dataclass(frozen=True)
class Figure:
    """One measured number, its target and the anchor measured in the same run."""

    name: str
    value: float
    unit: str
    target: str
    ok: bool
    anchor: str = ""

    def line(self) -> str:
        verdict = "OK" if self.ok else "MISSED"
        anchor = f"; anchor: {self.anchor}" if self.anchor else ""
        figure = f"{self.value:,.1f} {self.unit}"
        return f"{self.name}: {figure} (target {self.target}{anchor}) -> {verdict}"


@contextmanager
def scratch_settings() -> Iterator[Settings]:
    """Settings on the benchmark server with a throw-away namespace."""
    url = os.environ.get("QT_REDIS_URL") or os.environ.get("QT_TEST_REDIS_URL")
    overrides = {"namespace": f"bench-{uuid.uuid4().hex[:8]}"}
    if url:
        overrides["redis_url"] = url
    settings = load_settings(**overrides)
    client = connect(settings)
    delete_namespace(client, settings.namespace)
    try:
        yield settings
    finally:
        delete_namespace(client, settings.namespace)


def raw_client(settings: Settings) -> redis.Redis:
    return connect(settings)


def report(figures: list[Figure]) -> int:
    """Print the figures (``--json`` for machine-readable); exit 1 if one missed its target."""
    if "--json" in sys.argv:
        print(json.dumps([asdict(f) for f in figures], indent=2))
    else:
        for figure in figures:
            print(figure.line())
    return 0 if all(f.ok for f in figures) else 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class CommandCount:
    """Redis commands sent and round trips made on one client's connections."""

    commands: int = 0
    round_trips: int = 0


def count_commands(client: redis.Redis) -> CommandCount:
    """Count, from now on, every command ``client`` sends (a pipeline's commands one by
    one, a script call as one) and every round trip (a pipeline is one). The client's
    open connections are dropped so the new ones count."""
    counter = CommandCount()
    pool = client.connection_pool
    base = pool.connection_class

    class Counting(base):  # type: ignore[valid-type, misc]
        def send_command(self, *args: object, **kwargs: object) -> None:
            counter.commands += 1
            super().send_command(*args, **kwargs)

        def pack_commands(self, commands: object) -> object:
            commands = list(commands)  # type: ignore[call-overload]
            counter.commands += len(commands)
            return super().pack_commands(commands)

        def send_packed_command(self, command: object, check_health: bool = True) -> None:
            counter.round_trips += 1
            super().send_packed_command(command, check_health)

    pool.disconnect()
    pool.reset()  # forget the old connection objects: new ones are made counting
    pool.connection_class = Counting
    return counter


def rss_mb() -> float:
    """This process's resident memory in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    """The machine's 1-minute load average and core count, to say how busy it was."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
