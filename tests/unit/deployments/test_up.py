"""What `up` does about a previous `up` of the same QT_HOME: refuse a live one; stop what
a dead one left running, name the flow runs that died with it, inherit its Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from rich.console import Console

from components.engine import CycleReport
from components.engine.lease import EngineLease
from components.engine.liveness import EngineLiveness, EngineStatus
from components.policy import GlobalPolicy
from components.risk.emergency import EssState
from deployments.up import (
    Started,
    clear_leftovers,
    end_flow_runs,
    owned_redis,
    record,
    record_path,
    stale_verdict,
    status_line,
    stop,
)


def sleeper(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                            env=env, start_new_session=True)  # fmt: skip


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_ups_children_are_stopped_and_their_flow_runs_named(tmp_path: Path) -> None:
    run_id = str(uuid.uuid4())
    serve = sleeper({**os.environ, "PREFECT__FLOW_RUN_ID": run_id})
    server = sleeper()
    record_path(tmp_path).write_text(json.dumps({
        "pid": dead_pid(), "children": {"serve": serve.pid, "server": server.pid},
        "redis": True,
    }))  # fmt: skip
    time.sleep(0.2)  # the children have exec'd: their environment is readable

    assert owned_redis(tmp_path)
    dead = clear_leftovers(tmp_path, Console(file=open(os.devnull, "w")))  # noqa: SIM115

    assert list(dead) == [run_id]
    assert serve.wait(timeout=10) == -9 and server.wait(timeout=10) == -9
    assert not record_path(tmp_path).exists()


def test_a_live_up_of_the_same_home_is_refused(tmp_path: Path) -> None:
    other = sleeper()
    try:
        record_path(tmp_path).write_text(json.dumps({"pid": other.pid, "children": {}}))
        with pytest.raises(RuntimeError, match="another `quantum-trader up` runs"):
            clear_leftovers(tmp_path, Console(file=open(os.devnull, "w")))  # noqa: SIM115
    finally:
        other.kill()
        other.wait()


def test_the_record_says_which_processes_and_whether_it_owns_the_redis(tmp_path: Path) -> None:
    child = sleeper()
    try:
        started = Started(processes=[("serve", child)])  # type: ignore[list-item]
        record(tmp_path, started)
        assert json.loads(record_path(tmp_path).read_text())["children"] == {"serve": child.pid}
        assert not owned_redis(tmp_path)
        started.redis_home = tmp_path
        record(tmp_path, started)
        assert owned_redis(tmp_path)
    finally:
        child.kill()
        child.wait()


def test_research_first_runs_wait_for_the_engine_s_first_cycle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On 2 cores, strategy generation and retraining started with the trading path took
    # the CPU for minutes, and a fresh `up` held no position after 5 minutes.
    import deployments.up as up

    started: list[list[str]] = []
    monkeypatch.setattr(up, "start_runs", lambda api, console, names: started.append(sorted(names)))
    later = up.run_first(up.PrefectApi("http://127.0.0.1:1/api", None), "qt", Console())
    assert started == [
        [
            "health-check",
            "msc-evaluation",
            "opportunity-ranking",
            "trading-engine",
            "universe-refresh",
        ]
    ]
    assert sorted(later) == ["analytics-report", "clm-retraining", "strategy-generation"]


HOLD_THROUGH_SIGTERM = """
import signal, sys, time
from datetime import UTC, datetime
import redis
from components.engine.lease import EngineLease, LeaseHolder
signal.signal(signal.SIGTERM, lambda *_: None)  # a cycle in progress, finished first
lease = EngineLease(redis.Redis.from_url(sys.argv[1]), namespace=sys.argv[2], ttl_s=600)
holder = LeaseHolder.this_process("run-1", now=datetime.now(UTC))
assert lease.acquire(holder) is None
with lease.hold(holder):
    print("held", flush=True)
    time.sleep(300)
"""


def test_the_lease_of_a_session_killed_before_it_released_it_is_freed_by_up(
    redis_url: str, namespace: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prefect's runner SIGKILLs a flow run still busy 30 s after its SIGTERM: an engine
    # session mid-cycle on a loaded host never gets to release its lease.
    import deployments.up as up

    monkeypatch.setattr(up, "SERVE_GRACE_S", 0.5)
    session = subprocess.Popen(
        [sys.executable, "-c", HOLD_THROUGH_SIGTERM, redis_url, namespace],
        stdout=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert session.stdout is not None and session.stdout.readline() == b"held\n"
    lease = EngineLease(client, namespace=namespace)
    holder = lease.holder()
    assert holder is not None and holder.pid == session.pid
    out = Path(os.devnull).open("w")  # noqa: SIM115
    console = Console(file=out, record=True, width=500)

    stop(Started(processes=[("serve", session)], lease=lease), console)  # type: ignore[list-item]

    assert session.returncode == -9
    assert lease.holder() is None
    assert f"released the engine lease of {holder.describe()}" in console.export_text()


def test_the_status_line_says_why_the_engine_holds_no_position() -> None:
    """The newcomer's question when `up` shows 0 positions: is it stuck, or waiting?"""
    report = CycleReport(
        cycle=2,
        at=datetime(2026, 11, 30, 18, tzinfo=UTC),
        policy_version=4,
        ess_state=EssState.ACTIVE,
        symbols=4,
        strategies=["mean_reversion"],
        equity=10_000.0,
    )
    beat = {"report": json.loads(report.model_dump_json(exclude={"orders", "skipped"}))}

    line = status_line(GlobalPolicy(), "SIDEWAYS_WIDE", beat, "HEALTHY")
    assert "engine 0 positions (no setup for mean_reversion on 4 symbols), equity 10,000" in line

    holding = json.loads(report.model_copy(update={"positions": 1}).model_dump_json())
    line = status_line(GlobalPolicy(), "SIDEWAYS_WIDE", {"report": holding}, "HEALTHY")
    assert "engine 1 positions, equity 10,000, ESS ACTIVE" in line


def test_a_not_running_verdict_is_looked_at_again_once_the_engine_beats() -> None:
    """A fresh `up` showed 'engine 0 positions ... (IDLE (no session yet))' for half a
    minute after the engine's first cycle: the verdict predated the session."""
    idle = EngineLiveness(status=EngineStatus.IDLE, reason="no session yet")
    running = EngineLiveness(status=EngineStatus.RUNNING, reason="heartbeat 2 s ago")
    first = datetime(2026, 11, 30, 20, 43, tzinfo=UTC)

    assert stale_verdict(idle, first, None)  # the first beat after the verdict
    assert not stale_verdict(idle, first, first)  # the same beat: nothing new
    assert not stale_verdict(idle, None, None)  # no beat yet
    assert not stale_verdict(running, first, None)  # a running verdict stays true
    assert not stale_verdict(None, first, None)  # no verdict yet: the next check makes one


RUN = """
import pathlib, signal, sys, time
marker = pathlib.Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (marker.write_text("ended"), sys.exit(0)))
marker.with_suffix(".ready").write_text("")
time.sleep(300)
"""
SERVE = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(300)
"""


def test_stopping_serve_first_ends_its_flow_runs_with_serve_left_alone(tmp_path: Path) -> None:
    """Prefect's runner kills its flow runs when it gets SIGTERM itself, so a trading
    session never ended cleanly on Ctrl-C (the next `up` found it crashed)."""
    marker = tmp_path / "run"
    argv = [sys.executable, "-c", SERVE, RUN, str(marker)]
    serve = subprocess.Popen(argv, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not marker.with_suffix(".ready").exists():
            assert time.monotonic() < deadline, "the flow run never started"
            time.sleep(0.05)

        started = time.monotonic()
        assert end_flow_runs(serve, grace_s=60) == 1
        assert time.monotonic() - started < 30  # returned once the run ended, not at the grace
        assert marker.read_text() == "ended"  # its SIGTERM handler ran
        assert serve.poll() is None  # serve itself is stopped afterwards, by stop()
    finally:
        os.killpg(serve.pid, signal.SIGKILL)
        serve.wait()
