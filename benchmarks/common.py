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
