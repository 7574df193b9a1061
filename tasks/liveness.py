"""The engine's sessions as Prefect sees them, for the liveness verdict and its repair.

Prefect knows each session (a flow run of the engine's deployment), its state, and its
heartbeats (``prefect.flow-run.heartbeat`` events, every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``
seconds while its process lives). This module reads them into
:class:`~components.engine.liveness.EngineSession` records, and marks the runs whose
process is gone ``Crashed``: that frees the deployment's concurrency slot, so the next
session can start. The automation in prefect.yaml does the same on the server; ``up``
calls :func:`reconcile_silent_runs` when it starts and while it runs, and the health check
reports :func:`engine_liveness`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from components.clock import SystemClock
from components.engine.liveness import (
    EngineLiveness,
    EngineSession,
    EngineStatus,
    assess_engine,
    silent_sessions,
)
from components.settings import Settings

log = logging.getLogger(__name__)

ENGINE_FLOW = "trading-engine"
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"
# A run is silent after three missed heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY=30): the
# same bound as the automation in prefect.yaml.
SILENT_AFTER_S = 90.0
HEARTBEAT_FREQUENCY_S = 30
UNFINISHED = ("PENDING", "RUNNING", "CANCELLING")
# The Crashed message of a run whose process died starts with this: prefect.yaml's
# trading-engine trigger starts the next session at once on it.
PROCESS_GONE = "process gone"


def deployment_name(flow_name: str, namespace: str) -> str:
    """The deployment of ``flow_name`` for an account: ``<flow>`` for the default
    namespace, ``<flow>-<namespace>`` for the others (one set of deployments per account)."""
    default = Settings.model_fields["namespace"].default
    return flow_name if namespace == default else f"{flow_name}-{namespace}"


def sessions(client: Any, full_name: str, *, limit: int = 10) -> list[EngineSession]:
    """The latest runs of deployment ``flow/deployment`` with their last heartbeats
    (``client``: a synchronous Prefect client)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    deployment = client.read_deployment_by_name(full_name)
    runs = client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
        # the scheduler keeps many future runs: only those that started, or tried to
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(not_any_=[StateType.SCHEDULED, StateType.PAUSED])
            )
        ),
        sort=FlowRunSort.EXPECTED_START_TIME_DESC,
        limit=limit,
    )
    runs = [r for r in runs if r.state is not None]
    beats = last_heartbeats(client, [str(r.id) for r in runs if r.state.type.value in UNFINISHED])
    return [
        EngineSession(
            id=str(r.id),
            name=r.name,
            state=r.state.type.value,
            message=r.state.message,
            since=r.state.timestamp,
            last_heartbeat=beats.get(str(r.id)),
        )
        for r in runs
    ]


def last_heartbeats(client: Any, run_ids: list[str]) -> dict[str, datetime]:
    """The time of each run's latest heartbeat event (runs with none are left out)."""
    if not run_ids:
        return {}
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventResourceFilter,
    )

    page = client.read_events(
        filter=EventFilter(
            occurred=EventOccurredFilter(since=SystemClock().now() - timedelta(hours=2)),
            event=EventNameFilter(name=[HEARTBEAT_EVENT]),
            resource=EventResourceFilter(id=[f"prefect.flow-run.{i}" for i in run_ids]),
        ),
        limit=max(50, 10 * len(run_ids)),
    )
    beats: dict[str, datetime] = {}
    for event in page.events:  # newest first
        run_id = event.resource.id.removeprefix("prefect.flow-run.")
        beats.setdefault(run_id, event.occurred)
    return beats


def engine_liveness(client: Any, namespace: str, *, now: datetime) -> EngineLiveness:
    """The verdict on the engine deployment of ``namespace``."""
    from prefect.exceptions import ObjectNotFound

    name = f"{ENGINE_FLOW}/{deployment_name(ENGINE_FLOW, namespace)}"
    try:
        runs = sessions(client, name)
    except ObjectNotFound:
        return EngineLiveness(status=EngineStatus.IDLE, reason=f"{name} is not deployed yet")
    return assess_engine(runs, now=now, silent_after_s=SILENT_AFTER_S)


def reconcile_silent_runs(
    client: Any,
    full_names: list[str],
    *,
    now: datetime,
    silent_after_s: float = SILENT_AFTER_S,
    dead: dict[str, str] | None = None,
    all_dead: str | None = None,
) -> list[tuple[EngineSession, str]]:
    """Mark ``Crashed`` every unfinished run of these deployments whose process is gone:
    silent for ``silent_after_s`` (no heartbeat), in ``dead`` (run id -> how its process is
    known to have died), or any at all when ``all_dead`` says why none can be alive (e.g.
    nothing runs these deployments yet). Returns each run marked with the reason given."""
    dead = dead or {}
    from prefect.states import Crashed

    marked = []
    for full_name in full_names:
        try:
            runs = sessions(client, full_name, limit=20)
        except Exception as exc:  # e.g. not registered yet: nothing of it can be stale
            log.debug("no runs of %s to reconcile: %s", full_name, exc)
            continue
        silent = {s.id for s in silent_sessions(runs, now=now, silent_after_s=silent_after_s)}
        for run in runs:
            if run.state not in UNFINISHED:
                continue
            if run.id in dead:
                reason = f"{PROCESS_GONE}: {dead[run.id]}"
            elif run.id in silent:
                reason = f"{PROCESS_GONE}: no heartbeat for {run.silent_for(now):.0f} s"
            elif all_dead is not None:
                reason = f"{PROCESS_GONE}: {all_dead}"
            else:
                continue
            client.set_flow_run_state(run.id, Crashed(message=reason), force=True)
            marked.append((run, reason))
    return marked
