"""Self-healing of the decision modules: a module whose flow keeps failing is put into
OBSERVE, and comes back to its configured mode once it runs well again.

Each decision module has a configured mode in Settings (``QT_MSC_MODE``, ...). Its
*effective* mode is the configured one unless the health check has put the module into
OBSERVE (an *override*): then it decides, announces and publishes, but leaves the policy
alone. The rules, applied by the health check through :func:`decide_healing`:

- a module configured ENFORCED whose last ``failures`` runs (3) all failed goes to
  OBSERVE, with a ``module.mode_changed`` event saying why;
- a module in OBSERVE whose last ``good_runs`` runs (3), all run in OBSERVE, succeeded goes
  back to its configured mode (event again); so does one whose configured mode is no
  longer ENFORCED (nothing left to hold back);
- by hand, ``quantum-trader modules restore NAME`` ends an override at once.

Keys (under the namespace ``ns``)::

    ns:modules:runs:<module>   list, newest first, at most 20: one JSON ModuleRun per
                               finished flow run (written by the flow's state hooks)
    ns:modules:overrides       hash: module -> JSON ModuleOverride

A change of mode clears the module's runs, so each rule counts only runs since the last
change. It is written together with its event (one MULTI/EXEC, watched against a run
being recorded at the same moment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.config import ModuleMode
from components.errors import ConfigurationError
from components.events.models import Event
from components.events.streams import encode_event, stats_key, stream_key
from components.events.types import MODULE_MODE_CHANGED
from components.redis import namespaced

if TYPE_CHECKING:
    from components.settings import Settings

RUNS_KEPT = 20


@dataclass(frozen=True)
class ModuleSpec:
    """A decision module: its name, the flow that runs it (None: it runs inside the
    engine's cycle, so no flow of its own is watched) and where Settings keep its mode."""

    name: str
    flow: str | None
    setting: str

    def configured(self, settings: Settings) -> ModuleMode:
        """The mode ``settings`` give this module."""
        value: Any = settings
        for part in self.setting.split("."):
            value = getattr(value, part)
        return ModuleMode(value)


MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec("msc", "msc-evaluation", "msc.mode"),
    ModuleSpec("ranker", "opportunity-ranking", "ranker.mode"),
    ModuleSpec("universe", "universe-refresh", "universe.mode"),
    ModuleSpec("clm", "clm-retraining", "clm.mode"),
    ModuleSpec("generator", "strategy-generation", "evolution.mode"),
    ModuleSpec("balancer", None, "balancer.mode"),
    ModuleSpec("pal", None, "pal.mode"),
)


def module(name: str) -> ModuleSpec:
    """The module called ``name``.

    Raises
    ------
    ConfigurationError
        No module has that name (the message lists them).
    """
    for spec in MODULES:
        if spec.name == name:
            return spec
    names = ", ".join(spec.name for spec in MODULES)
    raise ConfigurationError(f"no module named {name!r}; the modules are {names}")


def module_of_flow(flow: str) -> ModuleSpec | None:
    """The module the flow called ``flow`` runs, if any."""
    return next((spec for spec in MODULES if spec.flow == flow), None)


class ModuleRun(BaseModel):
    """One finished run of a module's flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    at: AwareDatetime
    mode: ModuleMode | None = Field(
        None, description="The mode the run decided in (None: it failed before reading it)."
    )
    error: str | None = None


class ModuleOverride(BaseModel):
    """The health check holds the module in ``mode`` (OBSERVE) since ``since``, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModuleMode = ModuleMode.OBSERVE
    since: AwareDatetime
    reason: str


class ModuleStatus(BaseModel):
    """What ``quantum-trader modules`` shows for one module."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str
    flow: str | None
    configured: ModuleMode
    effective: ModuleMode
    override: ModuleOverride | None = None
    failures_in_a_row: int = 0
    good_runs_in_a_row: int = 0
    last_run: ModuleRun | None = None


class ModeChange(BaseModel):
    """A module leaving one effective mode for another, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    module: str
    previous: ModuleMode
    mode: ModuleMode
    configured: ModuleMode
    reason: str
    by: str


def effective_mode(configured: ModuleMode, override: ModuleOverride | None) -> ModuleMode:
    """The mode a module runs in: an override only ever holds an ENFORCED module back.

    >>> effective_mode(ModuleMode.ENFORCED, None)
    <ModuleMode.ENFORCED: 'ENFORCED'>
    """
    if override is not None and configured is ModuleMode.ENFORCED:
        return override.mode
    return configured


def _in_a_row(runs: Sequence[ModuleRun], ok: bool) -> int:
    count = 0
    for run in runs:  # newest first
        if run.ok is not ok:
            break
        count += 1
    return count


def decide_healing(
    configured: ModuleMode,
    override: ModuleOverride | None,
    runs: Sequence[ModuleRun],
    *,
    failures: int = 3,
    good_runs: int = 3,
) -> tuple[ModuleMode, str] | None:
    """The effective mode a module should move to, and why; None to leave it as it is.

    ``runs`` are the module's runs since its last change of mode, newest first.

    >>> failed = ModuleRun(ok=False, at=now, error="DataError: ...")
    >>> decide_healing(ModuleMode.ENFORCED, None, [failed] * 3)
    (<ModuleMode.OBSERVE: 'OBSERVE'>, '3 failed runs in a row; the last: DataError: ...')
    """
    if override is None:
        if configured is ModuleMode.ENFORCED and _in_a_row(runs, ok=False) >= failures:
            last = runs[0].error or "no error message"
            return ModuleMode.OBSERVE, f"{failures} failed runs in a row; the last: {last}"
        return None
    if configured is not ModuleMode.ENFORCED:
        return configured, f"configured {configured.value}: nothing to hold back"
    observed = [run for run in runs[:good_runs] if run.ok and run.mode is override.mode]
    if len(observed) >= good_runs:
        return configured, f"{good_runs} good runs in {override.mode.value}"
    return None


class ModuleModes:
    """The runs and overrides of the decision modules of one namespace (see the module
    docstring).

    >>> modes = ModuleModes(client, namespace="qt")
    >>> modes.record_run("msc", ModuleRun(ok=False, at=now, error="boom"))
    >>> modes.heal(settings, now=now)   # after three failures: [ModeChange(msc -> OBSERVE)]
    """

    def __init__(self, client: redis.Redis, *, namespace: str, stream_maxlen: int = 100_000):
        self._r: Any = client
        self._namespace = namespace
        self._overrides = namespaced(namespace, "modules", "overrides")
        self._stream = stream_key(namespace, MODULE_MODE_CHANGED)
        self._stats = stats_key(namespace)
        self._maxlen = stream_maxlen

    def _runs_key(self, name: str) -> str:
        return namespaced(self._namespace, "modules", "runs", name)

    # --- reading ------------------------------------------------------------------------
    def override(self, name: str) -> ModuleOverride | None:
        raw = self._r.hget(self._overrides, name)
        return ModuleOverride.model_validate_json(raw) if raw else None

    def overrides(self) -> dict[str, ModuleOverride]:
        """Every module held back by the health check, by name."""
        raw = self._r.hgetall(self._overrides)
        return {_text(k): ModuleOverride.model_validate_json(v) for k, v in raw.items()}

    def runs(self, name: str) -> list[ModuleRun]:
        """The module's runs since its last change of mode, newest first."""
        raw = self._r.lrange(self._runs_key(name), 0, RUNS_KEPT - 1)
        return [ModuleRun.model_validate_json(item) for item in raw]

    def effective(self, settings: Settings, name: str) -> ModuleMode:
        """The mode the module ``name`` runs in now (see :func:`effective_mode`)."""
        spec = module(name)
        return effective_mode(spec.configured(settings), self.override(name))

    def statuses(self, settings: Settings) -> list[ModuleStatus]:
        """Every module's configured and effective mode, override and recent runs."""
        overrides = self.overrides()
        statuses = []
        for spec in MODULES:
            runs = self.runs(spec.name) if spec.flow else []
            configured = spec.configured(settings)
            override = overrides.get(spec.name)
            statuses.append(
                ModuleStatus(
                    module=spec.name,
                    flow=spec.flow,
                    configured=configured,
                    effective=effective_mode(configured, override),
                    override=override,
                    failures_in_a_row=_in_a_row(runs, ok=False),
                    good_runs_in_a_row=_in_a_row(runs, ok=True),
                    last_run=runs[0] if runs else None,
                )
            )
        return statuses

    # --- writing ------------------------------------------------------------------------
    def record_run(self, name: str, run: ModuleRun) -> None:
        """Remember one finished run of the module ``name`` (newest first, 20 kept)."""
        key = self._runs_key(name)
        with self._r.pipeline(transaction=True) as pipe:
            pipe.lpush(key, run.model_dump_json())
            pipe.ltrim(key, 0, RUNS_KEPT - 1)
            pipe.execute()

    def heal(
        self, settings: Settings, *, now: datetime, failures: int = 3, good_runs: int = 3
    ) -> list[tuple[ModeChange, Event]]:
        """Apply :func:`decide_healing` to every module with a flow; returns the changes
        made, each with the ``module.mode_changed`` event written with it."""
        changes = []
        for spec in MODULES:
            if spec.flow is None:
                continue
            change = self._heal_one(settings, spec, now, failures, good_runs)
            if change is not None:
                changes.append(change)
        return changes

    def _heal_one(
        self, settings: Settings, spec: ModuleSpec, now: datetime, failures: int, good_runs: int
    ) -> tuple[ModeChange, Event] | None:
        configured = spec.configured(settings)

        def decide(override: ModuleOverride | None, runs: list[ModuleRun]) -> Any:
            decision = decide_healing(
                configured, override, runs, failures=failures, good_runs=good_runs
            )
            if decision is None:
                return None
            mode, reason = decision
            new = ModuleOverride(mode=mode, since=now, reason=reason)
            return (new if mode is not configured else None), reason

        return self._change(spec.name, configured, decide, now=now, by="health-check")

    def restore(
        self, settings: Settings, name: str, *, now: datetime, by: str
    ) -> tuple[ModeChange, Event] | None:
        """End the override of module ``name`` by hand: it runs in its configured mode
        again. Returns the change and its event, or None if the module was not held back."""
        spec = module(name)
        configured = spec.configured(settings)

        def decide(override: ModuleOverride | None, runs: list[ModuleRun]) -> Any:
            return None if override is None else (None, f"restored by hand ({by})")

        return self._change(name, configured, decide, now=now, by=by)

    def _change(
        self, name: str, configured: ModuleMode, decide: Any, *, now: datetime, by: str
    ) -> tuple[ModeChange, Event] | None:
        """Read the module's override and runs, ask ``decide`` for ``(new override or
        None, reason)`` (or None: no change), and write the change with its event;
        retried if a run is recorded meanwhile."""
        runs_key = self._runs_key(name)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._overrides, runs_key)
                    raw = pipe.hget(self._overrides, name)
                    override = ModuleOverride.model_validate_json(raw) if raw else None
                    items = pipe.lrange(runs_key, 0, RUNS_KEPT - 1)
                    runs = [ModuleRun.model_validate_json(item) for item in items]
                    decision = decide(override, runs)
                    if decision is None:
                        pipe.unwatch()
                        return None
                    new, reason = decision
                    change = ModeChange(
                        module=name,
                        previous=effective_mode(configured, override),
                        mode=effective_mode(configured, new),
                        configured=configured,
                        reason=reason,
                        by=by,
                    )
                    event = Event.create(
                        MODULE_MODE_CHANGED,
                        change.model_dump(mode="json"),
                        source=by,
                        occurred_at=now,
                    )
                    pipe.multi()
                    if new is None:
                        pipe.hdel(self._overrides, name)
                    else:
                        pipe.hset(self._overrides, name, new.model_dump_json())
                    pipe.delete(runs_key)
                    pipe.xadd(
                        self._stream, encode_event(event), maxlen=self._maxlen, approximate=True
                    )
                    pipe.hincrby(self._stats, "published", 1)
                    pipe.execute()
                    return change, event
                except redis.WatchError:
                    continue


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
