"""Is the trading engine running, and if not, why? A verdict from its recent sessions.

The engine runs as bounded sessions (flow runs of one deployment). Whoever runs them
(``serve`` under ``up``, or workers) describes them here as plain :class:`EngineSession`
records, with the time of each one's last sign of life (its Prefect heartbeat); this
module decides, with no I/O and no Prefect import:

- ``running``: a session runs and was heard from recently;
- ``starting``: a session is about to run;
- ``idle``: between two sessions (the last one ended normally), or none ran yet;
- ``down``: not trading, with the reason a person needs: the last session crashed,
  failed or was cancelled (its message), a running session went silent (no heartbeat
  for N s: its process or machine died), or sessions are refused because the concurrency
  slot is held while none runs.

    >>> assess_engine(sessions, now=now, silent_after_s=90).reason
    'last session crashed at 12:03:05: no heartbeat for 90 s'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ACTIVE = ("RUNNING", "CANCELLING")
WAITING = ("PENDING",)


class EngineStatus(StrEnum):
    RUNNING = "running"
    STARTING = "starting"
    IDLE = "idle"
    DOWN = "down"


class EngineSession(BaseModel):
    """One engine session (a flow run) as its orchestrator reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    state: str = Field(description="RUNNING, COMPLETED, CRASHED, CANCELLED, ... (upper case)")
    message: str | None = None
    since: AwareDatetime = Field(description="When it entered this state.")
    last_heartbeat: AwareDatetime | None = Field(None, description="Its last sign of life.")

    def silent_for(self, now: datetime) -> float:
        """Seconds since the last heartbeat (since the state began, if none came)."""
        return (now - max(self.since, self.last_heartbeat or self.since)).total_seconds()


class EngineLiveness(BaseModel):
    """The verdict: a status, the reason in words, and the session it is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: EngineStatus
    reason: str
    session: str | None = None

    def describe(self) -> str:
        """E.g. ``DOWN (last session crashed at 12:03:05: no heartbeat for 90 s)``."""
        return f"{self.status.value.upper()} ({self.reason})"


def silent_sessions(
    sessions: list[EngineSession],
    *,
    now: datetime,
    silent_after_s: float,
    pending_after_s: float = 300.0,
) -> list[EngineSession]:
    """The sessions that claim to run but were not heard from for ``silent_after_s``, and
    those pending (about to start) for longer than ``pending_after_s`` (a pending run sends
    no heartbeat yet, and may wait for its process a while on a busy machine)."""
    return [
        s
        for s in sessions
        if (s.state in ACTIVE and s.silent_for(now) >= silent_after_s)
        or (s.state in WAITING and s.silent_for(now) >= max(silent_after_s, pending_after_s))
    ]


def assess_engine(
    sessions: list[EngineSession], *, now: datetime, silent_after_s: float
) -> EngineLiveness:
    """The engine's status from its recent ``sessions`` (any order).

    Parameters
    ----------
    sessions
        The latest sessions of the engine's deployment (a handful is enough).
    now
        The time to judge at.
    silent_after_s
        A running session not heard from for this long is dead (its process is gone).
    """
    latest = sorted(sessions, key=lambda s: s.since, reverse=True)
    active = [s for s in latest if s.state in ACTIVE]
    for session in active:
        silent = session.silent_for(now)
        if silent < silent_after_s:
            return EngineLiveness(
                status=EngineStatus.RUNNING, reason=f"session {session.name}", session=session.id
            )
    if active:
        session = active[0]
        return EngineLiveness(
            status=EngineStatus.DOWN,
            reason=(
                f"session {session.name} silent: no heartbeat for "
                f"{session.silent_for(now):.0f} s, its process is gone"
            ),
            session=session.id,
        )
    waiting = [s for s in latest if s.state in WAITING]
    if waiting:
        return EngineLiveness(
            status=EngineStatus.STARTING,
            reason=f"session {waiting[0].name} starting",
            session=waiting[0].id,
        )
    ended = [s for s in latest if s.state not in ("SCHEDULED", "PAUSED")]
    if not ended:
        return EngineLiveness(status=EngineStatus.IDLE, reason="no session yet")
    last = ended[0]
    at = f"{last.since:%H:%M:%S}"
    message = f": {last.message}" if last.message else ""
    if last.state == "COMPLETED":
        return EngineLiveness(
            status=EngineStatus.IDLE, reason=f"between sessions (last ended {at})", session=last.id
        )
    if last.state == "CANCELLED" and "concurrency limit" in (last.message or ""):
        return EngineLiveness(
            status=EngineStatus.DOWN,
            reason=(
                f"session {last.name} refused at {at}: the concurrency slot is held, but no "
                "session runs"
            ),
            session=last.id,
        )
    return EngineLiveness(
        status=EngineStatus.DOWN,
        reason=f"last session {last.state.lower()} at {at}{message}",
        session=last.id,
    )
