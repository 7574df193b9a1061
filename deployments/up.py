"""``quantum-trader up``: the whole system on one machine.

Starts (or finds) the Redis server, starts an authenticated Prefect server with its UI
unless ``PREFECT_API_URL`` names one, serves every deployment of prefect.yaml, creates the
automations, starts the HTTP API with its dashboard (``QT_API_HOST:QT_API_PORT``), starts a
first run of each deployment so the policy is populated at once, then prints a one-line
status whenever the risk mode, the regime, the ranking, the universe, the engine or health
changes. Ctrl-C (or SIGTERM) stops everything it started, flow runs included.

Liveness: ``up`` records what it started in ``QT_HOME/up.json``. When it starts and finds
the processes of an ``up`` that died (SIGKILL, a crash), it stops them and marks their
flow runs Crashed; it marks Crashed every run of its deployments that went silent (no
heartbeat for 90 s) when it starts and every 30 s after, so a dead engine session never
keeps the engine's concurrency slot, and the status line says when the engine is down
and why.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import redis
from rich.console import Console

from components.engine import read_heartbeat
from components.engine.lease import EngineLease, process_alive
from components.engine.liveness import EngineLiveness
from components.errors import QuantumTraderError
from components.events import RedisEventBus
from components.health import HealthStore
from components.policy import GlobalPolicy, PolicyStore
from components.redis import connect, embedded_socket_path, stop_embedded
from components.settings import Settings
from deployments.prefect_server import (
    api_healthy,
    auth_accepted,
    auth_path,
    auth_string,
    client_env,
    server_command,
    server_env,
    stop_process,
)
from deployments.specs import (
    PROJECT_ROOT,
    apply_automations,
    full_names,
    load_automations,
    load_specs,
)
from tasks.liveness import engine_liveness, reconcile_silent_runs

FIRST_RUN_ORDER = (
    "opportunity-ranking",
    "universe-refresh",
    "msc-evaluation",
    "health-check",
    "trading-engine",
)
# First runs the engine's first trade does not need, and that would take the CPU from it
# on a small machine (strategy generation and retraining search and fit for minutes): they
# start once the engine has run a cycle, or after DEFER_FIRST_RUNS_S at the latest.
DEFERRED_FIRST_RUNS = frozenset({"clm-retraining", "strategy-generation", "analytics-report"})
DEFER_FIRST_RUNS_S = 180.0
# First runs that end before the next in FIRST_RUN_ORDER starts (at most this long each):
# the universe needs the ranking, and the engine's first cycle trades the strategies the
# regime allows (on the defaults it opened what the MSC then closed, a minute later).
FIRST_RUNS_AWAITED = frozenset({"opportunity-ranking", "msc-evaluation"})
FIRST_RUN_WAIT_S = 120.0
SERVE = "the deployments (serve)"
SERVE_GRACE_S = 60.0  # an engine cycle finishes before its session ends
DEAD_SESSION_WAIT_S = 5.0  # for a killed session's process to be reaped
RECONCILE_EVERY_S = 30.0


@dataclass
class Started:
    """What ``up`` started, so that it stops exactly that."""

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    redis_home: Path | None = None
    lease: EngineLease | None = None  # the engine lease of the sessions serve runs
    logs: list[IO[bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class PrefectApi:
    """The Prefect API ``up`` uses, with its credentials (never printed)."""

    url: str
    auth: str | None

    def env(self) -> dict[str, str]:
        env = client_env(self.url, self.auth or "")
        if not self.auth:
            env.pop("PREFECT_API_AUTH_STRING")
        return env


def wait_for(
    what: str,
    ready: Any,
    timeout_s: float,
    console: Console,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Wait until ``ready()``; fail with the log's path if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    with console.status(f"waiting for {what}..."):
        while not ready():
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {timeout_s:.0f}s; see {log}")
            time.sleep(0.5)


def start(
    name: str, argv: list[str], env: dict[str, str], log: Path, started: Started
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        start_new_session=True,  # Ctrl-C reaches us; we stop each group in order
    )
    started.processes.append((name, process))
    started.logs.append(handle)
    return process


def stop(started: Started, console: Console) -> None:
    """Stop what ``up`` started, newest first, each process with its whole group; serve's
    flow runs first (:func:`end_flow_runs`), so the engine ends its session cleanly."""
    for name, process in reversed(started.processes):
        if name == SERVE:
            ended = end_flow_runs(process, grace_s=SERVE_GRACE_S)
            if ended:
                console.print(f"ended {ended} flow run{'s' if ended != 1 else ''} of serve")
        stop_process(process, grace_s=SERVE_GRACE_S, group=True)
        console.print(f"stopped {name}")
    if started.lease is not None:
        release_dead_session(started.lease, console)
    for handle in started.logs:
        handle.close()
    if started.redis_home is not None and stop_embedded(started.redis_home):
        console.print("stopped the embedded Redis server (data kept)")


def end_flow_runs(serve: subprocess.Popen[bytes], *, grace_s: float) -> int:
    """SIGTERM the flow runs ``serve`` runs (its child processes), not serve itself, and
    wait up to ``grace_s`` for them to end; return how many there were.

    Prefect's runner answers SIGTERM by exiting at once and killing its flow runs, whose
    output it pipes: a trading-engine session killed so never ends (no final cycle, no
    final state; the next `up` finds it crashed). Signalled alone, the session finishes
    its cycle and ends with its state, while serve still relays its logs.
    """
    runs = _children(serve.pid)
    for pid in runs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while any(_running_child(pid, serve.pid) for pid in runs):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return len(runs)


def release_dead_session(
    lease: EngineLease, console: Console, *, wait_s: float = DEAD_SESSION_WAIT_S
) -> None:
    """Free the engine lease of a session that was killed before it could release it.

    On SIGTERM a session finishes its cycle first; serve waits for its flow runs, and
    :func:`stop` SIGKILLs the group after ``SERVE_GRACE_S``. On a loaded host (the research
    first runs start as the engine's first cycle ends) that cycle can outlast the grace: the
    lease would stay held for its TTL. Freed only once the holder's process is gone (waiting
    ``wait_s`` for it to be reaped); a live holder keeps it.
    """
    deadline = time.monotonic() + wait_s
    try:
        while (dead := lease.release_dead()) is None:
            holder = lease.holder()
            if holder is None or process_alive(holder) is not True:
                return
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)
    except redis.RedisError:
        return  # Redis away: the lease lapses within its TTL
    console.print(f"released the engine lease of {dead.describe()}: it was killed before it could")


# --- what a previous `up` left behind ------------------------------------------------------


def record_path(home: Path) -> Path:
    return home / "up.json"


def record(home: Path, started: Started) -> None:
    """Write which processes this ``up`` runs, and whether it owns the embedded Redis (for
    the next one, should this one die)."""
    children = {name: p.pid for name, p in started.processes}
    owns_redis = started.redis_home is not None
    record_path(home).write_text(
        json.dumps({"pid": os.getpid(), "children": children, "redis": owns_redis})
    )


def owned_redis(home: Path) -> bool:
    """Whether the ``up`` recorded in ``home`` (alive or dead) started the embedded Redis."""
    try:
        return bool(json.loads(record_path(home).read_text()).get("redis"))
    except (OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_members(pgid: int) -> list[int]:
    return _processes_where(STAT_PGRP, pgid)


def _children(pid: int) -> list[int]:
    return _processes_where(STAT_PPID, pid)


STAT_STATE, STAT_PPID, STAT_PGRP = 0, 1, 2  # fields of /proc/<pid>/stat after the command


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's ")" (None: no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _processes_where(field: int, value: int) -> list[int]:
    """The processes whose /proc stat ``field`` is ``value`` (their parent, their group)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(entry.name)
        with contextlib.suppress(ValueError, IndexError):
            if fields is not None and int(fields[field]) == value:
                found.append(int(entry.name))
    return found


def _running_child(pid: int, parent: int) -> bool:
    """Whether ``pid`` still runs as ``parent``'s child (a zombie waiting to be reaped
    has ended)."""
    fields = _stat(pid)
    return fields is not None and fields[STAT_STATE] != "Z" and int(fields[STAT_PPID]) == parent


def _flow_run_id(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                return item.split(b"=", 1)[1].decode()
    return None


def clear_leftovers(home: Path, console: Console) -> dict[str, str]:
    """Stop the processes of an ``up`` of this ``QT_HOME`` that died; return the flow runs
    they were running (run id -> why it is dead).

    Raises
    ------
    RuntimeError
        Another ``up`` of this ``QT_HOME`` is running.
    """
    path = record_path(home)
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if previous.get("pid") != os.getpid() and _alive(int(previous.get("pid", 0))):
        raise RuntimeError(
            f"another `quantum-trader up` runs with QT_HOME={home} (pid {previous['pid']}); "
            "stop it first, or use another QT_HOME"
        )
    dead: dict[str, str] = {}
    for name, pgid in previous.get("children", {}).items():
        members = _group_members(int(pgid))
        if not members:
            continue
        for pid in members:
            run_id = _flow_run_id(pid)
            if run_id:
                dead[run_id] = "left running by an `up` that died; stopped"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pgid), signal.SIGKILL)
        console.print(f"stopped {name} (pid {pgid}), left running by an `up` that died")
    path.unlink(missing_ok=True)
    return dead


# --- Prefect --------------------------------------------------------------------------------


@contextlib.contextmanager
def prefect_client(api: PrefectApi) -> Iterator[Any]:
    """A synchronous Prefect client for ``api``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    updates: dict[Any, Any] = {PREFECT_API_URL: api.url}
    if api.auth:
        updates[PREFECT_API_AUTH_STRING] = api.auth
    with temporary_settings(updates), get_client(sync_client=True) as client:
        yield client


def reconcile(
    api: PrefectApi,
    settings: Settings,
    console: Console,
    *,
    dead: dict[str, str] | None = None,
    all_dead: str | None = None,
) -> list[str]:
    """Mark the dead runs of the served deployments Crashed; print each one."""
    names = list(full_names(load_specs(namespace=settings.namespace)).values())
    with prefect_client(api) as client:
        marked = reconcile_silent_runs(
            client, names, now=datetime.now(UTC), dead=dead, all_dead=all_dead
        )
    lines = [f"marked {run.name} ({run.id[:8]}) Crashed: {reason}" for run, reason in marked]
    for line in lines:
        console.print(line)
    return lines


def run_first(api: PrefectApi, namespace: str, console: Console) -> dict[str, str]:
    """Start one run of each scheduled deployment the engine's first trade needs, now (the
    ranking first: the universe needs it); return the others (:data:`DEFERRED_FIRST_RUNS`),
    for :func:`start_runs` once the engine has run a cycle."""
    scheduled = [spec for spec in load_specs(namespace=namespace) if spec.schedules]
    names = full_names(scheduled)  # flow name -> flow/deployment
    later = {n: full for n, full in names.items() if n in DEFERRED_FIRST_RUNS}
    start_runs(api, console, {n: full for n, full in names.items() if n not in later})
    return later


def start_runs(api: PrefectApi, console: Console, names: dict[str, str]) -> None:
    """Start one run of each deployment of ``names`` (flow name -> flow/deployment), in
    :data:`FIRST_RUN_ORDER`; each of :data:`FIRST_RUNS_AWAITED` finishes (or has run
    :data:`FIRST_RUN_WAIT_S`) before the next starts."""
    from prefect.deployments import run_deployment

    order = sorted(names, key=lambda n: (*FIRST_RUN_ORDER, n).index(n))
    with prefect_client(api) as client:

        def registered() -> bool:
            try:
                for name in order:
                    client.read_deployment_by_name(names[name])
            except Exception:
                return False
            return True

        wait_for("the deployments to register", registered, 120, console)
        for name in order:
            run = run_deployment(names[name], timeout=0)
            console.print(f"started a first run of {name} ({run.name})")
            if name in FIRST_RUNS_AWAITED:
                deadline = time.monotonic() + FIRST_RUN_WAIT_S
                while time.monotonic() < deadline:
                    state = client.read_flow_run(run.id).state
                    if state is not None and state.is_final():
                        break
                    time.sleep(0.5)


# --- the status line ------------------------------------------------------------------------


def status_line(
    policy: GlobalPolicy,
    regime: str | None,
    engine: dict[str, Any] | None,
    health: str | None,
    liveness: EngineLiveness | None = None,
) -> str:
    top = sorted(policy.opp_rankings.items(), key=lambda item: (-item[1], item[0]))[:3]
    ranking = ", ".join(f"{symbol} {score:.2f}" for symbol, score in top) or "-"
    emergency = f"  EMERGENCY: {policy.emergency.reason}" if policy.emergency.active else ""
    trading = "engine -"
    if engine is not None:
        report = engine["report"]
        waiting = report.get("waiting_for")  # why no position yet, e.g. no setup
        trading = (
            f"engine {report['positions']} positions"
            f"{f' ({waiting})' if waiting else ''}, equity {report['equity']:,.0f}, "
            f"ESS {report['ess_state']}"
        )
    if liveness is not None and liveness.status.value != "running":
        trading += f" ({liveness.describe()})"
    return (
        f"{datetime.now(UTC):%H:%M:%S}  risk {policy.risk_mode.value:<10} "
        f"regime {regime or '-':<14} top {ranking}  universe {len(policy.active_universe)}  "
        f"{trading}  health {health or '-'}  (policy v{policy.version}){emergency}"
    )


def follow_status(
    settings: Settings,
    console: Console,
    api: PrefectApi | None = None,
    *,
    every_s: float = 2.0,
    deferred: dict[str, str] | None = None,
) -> None:
    """Print the status now and again whenever it changes (until Ctrl-C); with ``api``,
    also reconcile dead runs and show the engine's liveness every ``RECONCILE_EVERY_S``,
    and start the ``deferred`` first runs once the engine has run a cycle."""
    deferred = dict(deferred or {})
    defer_until = time.monotonic() + DEFER_FIRST_RUNS_S
    client = connect(settings)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    health = HealthStore(client, namespace=settings.namespace)
    bus = RedisEventBus(client, namespace=settings.namespace)
    shown = ""
    liveness: EngineLiveness | None = None
    checked = 0.0
    beat_seen = None
    while True:
        beat = read_heartbeat(client, settings.namespace)
        beat_at = beat["at"] if beat is not None else None
        stale = stale_verdict(liveness, beat_at, beat_seen)
        beat_seen = beat_at
        if api is not None and (stale or time.monotonic() - checked >= RECONCILE_EVERY_S):
            checked = time.monotonic()
            liveness = check_engine(api, settings, console)
        assessed = bus.tail("regime.assessed", count=1)
        regime = assessed[0].payload.market_state if assessed else None  # type: ignore[attr-defined]
        record_ = health.get()
        if api is not None and deferred and (beat is not None or time.monotonic() > defer_until):
            start_runs(api, console, deferred)
            deferred = {}
        line = status_line(
            store.get(),
            regime,
            beat,
            record_.status.value if record_ else None,
            liveness,
        )
        if line.split("  ", 1)[1] != shown:  # the same status again: stay quiet
            console.print(line)
            shown = line.split("  ", 1)[1]
        time.sleep(every_s)


def stale_verdict(
    liveness: EngineLiveness | None, beat_at: datetime | None, seen_at: datetime | None
) -> bool:
    """Whether the engine beat since a verdict that it is not running (its first cycle
    after `up` started it): look again then, not only every ``RECONCILE_EVERY_S``, or the
    status line shows a trading engine as IDLE for up to half a minute."""
    not_running = liveness is not None and liveness.status.value != "running"
    return not_running and beat_at is not None and beat_at != seen_at


def check_engine(api: PrefectApi, settings: Settings, console: Console) -> EngineLiveness | None:
    """Reconcile dead runs, then the engine's liveness (None when Prefect cannot tell)."""
    try:
        reconcile(api, settings, console)
        with prefect_client(api) as prefect:
            return engine_liveness(prefect, settings.namespace, now=datetime.now(UTC))
    except Exception as exc:  # the status line goes on without it
        console.print(f"engine liveness unknown: {type(exc).__name__}: {exc}"[:200])
        return None


def start_api(
    settings: Settings, env: dict[str, str], logs: Path, started: Started, console: Console
) -> None:
    """Start ``quantum-trader api`` (the HTTP API, the dashboard, metrics and alerts) and
    print where it answers."""
    from components.access import TokenStore, api_base_url
    from deployments.api.server import check_bind

    check_bind(settings, settings.api.host)
    url = api_base_url(settings)
    process = start(
        "the API", [sys.executable, "-m", "deployments.api"], env, logs / "api.log", started
    )

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    wait_for("the API", answers, 60, console, process, logs / "api.log")
    console.print(f"API: [bold]{url}/api[/bold] (docs {url}/docs, metrics {url}/metrics)")
    console.print(f"Dashboard: [bold]{url}/[/bold]")
    if TokenStore.connect(settings).count() == 0:
        console.print(
            "  (no API token yet: quantum-trader api token create --role operator --name you)"
        )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a service manager, `timeout`) stops like Ctrl-C


def start_prefect_server(
    home: Path,
    env: dict[str, str],
    started: Started,
    console: Console,
    *,
    host: str,
    port: int,
    database_url: str | None,
) -> PrefectApi:
    """The Prefect server ``up`` uses: its own (started now, or still running from an
    earlier start and accepting our credentials), authenticated."""
    auth = auth_string(home)
    api = PrefectApi(f"http://127.0.0.1:{port}/api", auth)
    logs = home / "logs"
    if api_healthy(api.url):
        if not auth_accepted(api.url, auth):
            raise RuntimeError(
                f"a Prefect server already listens on port {port} and refuses this QT_HOME's "
                f"credentials ({auth_path(home)}); stop it or choose another --port"
            )
        return api
    # The UI asks PREFECT_UI_API_URL for its API; unset, it assumes port 4200.
    server = start(
        "the Prefect server",
        server_command(host, port),
        {**env, **server_env(home, auth, database_url=database_url), "PREFECT_UI_API_URL": api.url},
        logs / "prefect-server.log",
        started,
    )
    wait_for(
        "the Prefect server",
        lambda: api_healthy(api.url),
        180,
        console,
        server,
        logs / "prefect-server.log",
    )
    return api


def up(
    settings: Settings,
    *,
    port: int = 4200,
    host: str = "127.0.0.1",
    database_url: str | None = None,
    console: Console | None = None,
) -> int:
    console = console or Console()
    signal.signal(signal.SIGTERM, _interrupt)
    started = Started()
    home = settings.home.expanduser().resolve()
    logs = home / "logs"
    # Children run from the project folder: hand them absolute paths, so a relative
    # QT_HOME means the same embedded Redis for them as for this process.
    env = {**os.environ, "QT_HOME": str(home)}
    for name in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING"):
        env.pop(name, None)
    if settings.market.folder is not None:
        env["QT_MARKET_FOLDER"] = str(settings.market.folder.expanduser().resolve())
    try:
        home.mkdir(parents=True, exist_ok=True)
        # The embedded Redis is ours to stop if we start it, or if the `up` that started it
        # died (its leftovers are ours now).
        inherited = owned_redis(home)
        dead = clear_leftovers(home, console)
        from deployments.api.server import check_port_free

        check_port_free(settings.api.host, settings.api.port)  # before anything starts
        if settings.redis_url is None and (inherited or not embedded_socket_path(home).exists()):
            started.redis_home = home
        record(home, started)
        connect(settings)
        console.print(f"Redis: {settings.redacted_redis_url()} (namespace {settings.namespace})")

        given = os.environ.get("PREFECT_API_URL", "")
        if given:
            api = PrefectApi(given, os.environ.get("PREFECT_API_AUTH_STRING") or None)
            if not api_healthy(api.url):
                raise RuntimeError(f"PREFECT_API_URL={api.url} does not answer")
            if not auth_accepted(api.url, api.auth or ":"):
                raise RuntimeError(
                    f"PREFECT_API_URL={api.url} refuses the credentials in PREFECT_API_AUTH_STRING"
                )
        else:
            api = start_prefect_server(
                home, env, started, console, host=host, port=port, database_url=database_url
            )
            record(home, started)
            console.print(f"Prefect UI: [bold]{api.url.removesuffix('/api')}[/bold]")
            console.print(f"  login: the contents of {auth_path(home)} (basic auth)")
            console.print(
                f"  for the prefect CLI: export PREFECT_API_URL={api.url} "
                f'PREFECT_API_AUTH_STRING="$(cat {auth_path(home)})"'
            )
        env.update(api.env())

        with prefect_client(api) as client:
            apply_automations(client, load_automations())
        # Before serve starts, nothing runs the served deployments on a server of this
        # QT_HOME's own (what a dead `up` left running was stopped above): any run still
        # unfinished there is dead. On a server named by PREFECT_API_URL only silence tells.
        own = None if given else "it was running when its `up` stopped"
        reconcile(api, settings, console, dead=dead, all_dead=own)
        liveness = check_engine(api, settings, console)
        if liveness is not None:
            console.print(f"engine {liveness.describe()}")

        started.lease = EngineLease(connect(settings), namespace=settings.namespace)
        start(
            SERVE,
            [sys.executable, "-m", "deployments.serve"],
            env,
            logs / "serve.log",
            started,
        )
        record(home, started)
        start_api(settings, env, logs, started, console)
        record(home, started)
        deferred = run_first(api, settings.namespace, console)
        console.print(f"logs: {logs}; Ctrl-C stops everything this started")
        follow_status(settings, console, api, deferred=deferred)
    except KeyboardInterrupt:
        console.print("\nstopping...")
    except (RuntimeError, QuantumTraderError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stop(started, console)
            record_path(home).unlink(missing_ok=True)
    return 0
