"""The engine's liveness verdict from its sessions: running, starting, idle or down, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from components.engine.liveness import (
    EngineSession,
    EngineStatus,
    assess_engine,
    silent_sessions,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def session(
    name: str,
    state: str,
    *,
    ago_s: float = 0,
    beat_ago_s: float | None = None,
    message: str | None = None,
) -> EngineSession:
    beat = None if beat_ago_s is None else NOW - timedelta(seconds=beat_ago_s)
    return EngineSession(id=name, name=name, state=state, message=message,
                         since=NOW - timedelta(seconds=ago_s), last_heartbeat=beat)  # fmt: skip


def verdict(*sessions: EngineSession):  # type: ignore[no-untyped-def]
    return assess_engine(list(sessions), now=NOW, silent_after_s=90)


def test_a_session_heard_from_recently_is_running() -> None:
    result = verdict(session("a", "RUNNING", ago_s=600, beat_ago_s=20))
    assert result.status is EngineStatus.RUNNING
    assert result.session == "a"


def test_a_running_session_silent_past_the_bound_is_down_with_no_heartbeat() -> None:
    result = verdict(session("a", "RUNNING", ago_s=600, beat_ago_s=95))
    assert result.status is EngineStatus.DOWN
    assert "no heartbeat for 95 s" in result.reason
    assert result.describe().startswith("DOWN (session a silent")


def test_a_crashed_last_session_is_down_with_its_message() -> None:
    result = verdict(
        session("old", "COMPLETED", ago_s=4000),
        session("b", "CRASHED", ago_s=30, message="no heartbeat for 90 s"),
    )
    assert result.status is EngineStatus.DOWN
    assert result.reason == "last session crashed at 11:59:30: no heartbeat for 90 s"


def test_a_cancelled_last_session_is_down_and_says_so() -> None:
    result = verdict(session("c", "CANCELLED", ago_s=10, message="cancelled by alice"))
    assert result.status is EngineStatus.DOWN
    assert "cancelled at 11:59:50: cancelled by alice" in result.reason


def test_sessions_refused_while_none_runs_mean_a_held_slot() -> None:
    result = verdict(
        session("stuck", "CRASHED", ago_s=900),
        session("d", "CANCELLED", ago_s=5, message="Deployment concurrency limit reached."),
    )
    assert result.status is EngineStatus.DOWN
    assert "concurrency slot is held, but no session runs" in result.reason


def test_sessions_refused_beside_a_running_one_are_normal() -> None:
    result = verdict(
        session("a", "RUNNING", ago_s=900, beat_ago_s=10),
        session("d", "CANCELLED", ago_s=5, message="Deployment concurrency limit reached."),
    )
    assert result.status is EngineStatus.RUNNING


def test_between_two_sessions_the_engine_is_idle_not_down() -> None:
    assert verdict(session("a", "COMPLETED", ago_s=60)).status is EngineStatus.IDLE
    assert verdict().reason == "no session yet"
    assert verdict(session("p", "PENDING", ago_s=5)).status is EngineStatus.STARTING


def test_silent_sessions_are_the_running_ones_past_the_bound_and_long_pending_ones() -> None:
    runs = [
        session("alive", "RUNNING", ago_s=900, beat_ago_s=30),
        session("dead", "RUNNING", ago_s=900, beat_ago_s=120),
        session("never-beat", "RUNNING", ago_s=100),
        session("slow-start", "PENDING", ago_s=120),
        session("stuck-start", "PENDING", ago_s=400),
        session("done", "COMPLETED", ago_s=1000),
    ]
    silent = silent_sessions(runs, now=NOW, silent_after_s=90)
    assert [s.name for s in silent] == ["dead", "never-beat", "stuck-start"]
