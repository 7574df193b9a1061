"""Tasks and flow hooks of the decision modules' self-healing
(:mod:`components.health.modules`).

A module's flow reads its mode with :func:`module_mode` (the configured mode, or OBSERVE
while the health check holds the module back) and takes its hooks from :func:`watched`,
so each finished run, good or failed, is remembered for the health check to judge::

    @flow(name=NAME, **watched(record_success))
    def msc_evaluation() -> ...:
        mode = module_mode(settings, "msc")
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from components.config import ModuleMode
from components.errors import QuantumTraderError
from components.events import Event
from components.health.modules import ModeChange, ModuleModes, ModuleRun, module_of_flow
from components.settings import Settings, load_settings
from tasks.common import io_task
from tasks.runtime import redis_client, runtime

log = logging.getLogger(__name__)

# The mode each flow run of this process decided in, by flow-run id, for its end hook.
_run_modes: dict[str, ModuleMode] = {}


def modes_store(settings: Settings) -> ModuleModes:
    return ModuleModes(runtime(settings).client, namespace=settings.namespace)


def module_mode(settings: Settings, name: str) -> ModuleMode:
    """The mode module ``name`` decides in for this run (see :func:`watched`).

    Called in the flow's own process, not as a task: a flow's task runner may run tasks
    in other processes, and the end hook (here) must know the mode its run decided in."""
    from prefect.runtime import flow_run

    mode = modes_store(settings).effective(settings, name)
    if flow_run.id:
        _run_modes[str(flow_run.id)] = mode
    return mode


STOPPED_FROM_OUTSIDE = (
    "Execution was aborted by a termination signal",
    "Execution was aborted by an interrupt signal",
)
"""How Prefect's Crashed state begins for a run stopped by SIGTERM or Ctrl-C (`up` stopping,
a worker shut down): it says nothing about the module, so it is not counted either way."""


def record_module_run(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect state hook (completion, failure, crash): remember how this run of a
    module's flow ended, and in which mode. Never raises: a run that cannot be recorded
    (Redis gone, which the health check reports itself) only logs."""
    spec = module_of_flow(flow.name)
    mode = _run_modes.pop(str(flow_run.id), None)
    if spec is None:
        return
    if state.is_crashed() and (state.message or "").startswith(STOPPED_FROM_OUTSIDE):
        log.info("%s was stopped (%s): not a failure of the module", flow.name, state.message)
        return
    ok = bool(state.is_completed())
    error = None if ok else _one_line(state.message or state.type.value)
    try:
        settings = load_settings()
        client = redis_client(settings)  # the run may have failed for a split brain
        try:
            at = runtime(settings).clock.now()
        except QuantumTraderError:
            at = state.timestamp
        store = ModuleModes(client, namespace=settings.namespace)
        store.record_run(spec.name, ModuleRun(ok=ok, at=at, mode=mode, error=error))
    except (QuantumTraderError, redis.RedisError) as exc:
        log.warning("cannot record the run of %s: %s", flow.name, exc)


def watched(*on_completion: Any) -> dict[str, list[Any]]:
    """The hook arguments of a module's flow: each run's end is recorded for the
    self-healing, after the flow's own completion hooks ``on_completion``."""
    return {
        "on_completion": [*on_completion, record_module_run],
        "on_failure": [record_module_run],
        "on_crashed": [record_module_run],
    }


@io_task("heal_modules", retries=0)
def heal_modules(settings: Settings) -> list[ModeChange]:
    """Hold back in OBSERVE each module whose flow keeps failing, and let go each that
    runs well again (:meth:`ModuleModes.heal`); announce every change. An unreachable
    Redis changes nothing: the health check reports it."""
    from components.health.check import HealthConfig

    config = HealthConfig.from_settings(settings)
    rt = runtime(settings)
    try:
        made = modes_store(settings).heal(
            settings,
            now=rt.clock.now(),
            failures=config.module_failures_to_observe,
            good_runs=config.module_good_runs_to_restore,
        )
    except redis.RedisError as exc:
        log.warning("modules not checked: %s", exc)
        return []
    events: list[Event] = [event for _, event in made]
    if events:
        rt.bus.notify_mirrors(events)
    return [change for change, _ in made]


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
