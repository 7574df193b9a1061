"""PolicyStore: get latency, and patch throughput with 8 writer processes, none lost.

The anchor, run the same way in the same run, is the naive optimistic-retry prototype:
WATCH the key, GET and validate the policy, MULTI/SET/LPUSH/XADD/EXEC, retry on conflict.

    python benchmarks/bench_policy.py [--json]
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from benchmarks.common import Figure, percentile, report, scratch_settings
from components.policy import GlobalPolicy, PolicyStore, deep_merge
from components.redis import connect
from components.settings import Settings

WRITERS = 8
SECONDS = 3.0
GETS = 5_000


def store_writer(settings: Settings, worker: int, start_at: float, result: Any) -> None:
    store = PolicyStore.connect(settings)
    while time.time() < start_at:
        time.sleep(0.001)
    n = 0
    end = start_at + SECONDS
    while time.time() < end:
        store.patch({"model_versions": {f"w{worker}": f"v{n}"}}, by=f"w{worker}", reason="bench")
        n += 1
    result[worker] = n


def naive_writer(settings: Settings, worker: int, start_at: float, result: Any) -> None:
    client = connect(settings)
    key, history, stream = (f"{settings.namespace}:naive{suffix}" for suffix in ("", ":h", ":s"))
    while time.time() < start_at:
        time.sleep(0.001)
    n = 0
    end = start_at + SECONDS
    while time.time() < end:
        while True:
            with client.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    policy = GlobalPolicy.model_validate_json(raw) if raw else GlobalPolicy()
                    data = deep_merge(
                        policy.model_dump(mode="json"),
                        {"model_versions": {f"w{worker}": f"v{n}"}, "version": policy.version + 1},
                    )
                    new = GlobalPolicy.model_validate(data).model_dump_json()
                    pipe.multi()
                    pipe.set(key, new)
                    pipe.lpush(history, json.dumps({"version": policy.version + 1}))
                    pipe.xadd(stream, {"v": str(policy.version + 1)})
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        n += 1
    result[worker] = n


def run_writers(settings: Settings, target: Any) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    result = context.Array("i", WRITERS)
    start_at = time.time() + 3.0  # every process imported and connected by then
    processes = [
        context.Process(target=target, args=(settings, w, start_at, result)) for w in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed with exit code {process.exitcode}")
    total = sum(result)
    return total / SECONDS, total


def main() -> int:
    with scratch_settings() as settings:
        store = PolicyStore.connect(settings)
        rankings = {f"S{i}/USDT": i / 100 for i in range(50)}
        store.patch({"opp_rankings": rankings}, by="bench", reason="a realistic policy size")
        timings = []
        for _ in range(GETS):
            start = time.perf_counter()
            store.get()
            timings.append((time.perf_counter() - start) * 1000)
        get_p50 = percentile(timings, 50)

        naive_rate, _ = run_writers(settings, naive_writer)
        before = store.get().version
        rate, total = run_writers(settings, store_writer)
        policy = store.get()
        lost = total - (policy.version - before)
        complete = len([k for k in policy.model_versions if k.startswith("w")]) == WRITERS

    return report(
        [
            Figure("PolicyStore.get p50", get_p50, "ms", "< 0.5 ms", get_p50 < 0.5),
            Figure(
                f"PolicyStore.patch, {WRITERS} writer processes",
                rate,
                "patches/s",
                ">= 1,000/s, none lost",
                rate >= 1000 and lost == 0 and complete,
                anchor=f"naive optimistic retry {naive_rate:,.0f}/s in the same run; "
                f"{total:,} patches, {lost} lost",
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
