"""``quantum-trader up``: the whole system on one machine.

Starts (or finds) the Redis server, starts a Prefect server with its UI unless
``PREFECT_API_URL`` names one, serves every deployment of prefect.yaml, starts the HTTP API
with its dashboard (``QT_API_HOST:QT_API_PORT``), starts a first run of each deployment so
the policy is populated at once, then prints a one-line status whenever the risk mode, the
regime, the ranking or the universe changes. Ctrl-C stops what it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console

from components.engine import read_heartbeat
from components.errors import QuantumTraderError
from components.events import RedisEventBus
from components.health import HealthStore
from components.policy import GlobalPolicy, PolicyStore
from components.redis import connect, embedded_socket_path, stop_embedded
from components.settings import Settings
from deployments.specs import PROJECT_ROOT, load_specs

PREFECT_QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
FIRST_RUN_ORDER = (
    "opportunity-ranking",
    "msc-evaluation",
    "universe-refresh",
    "health-check",
    "trading-engine",
)
STATUS_EVENTS = {
    "policy.updated",
    "regime.assessed",
    "health.status_changed",
    "ess.state_changed",
    "trade.executed",
}


@dataclass
class Started:
    """What ``up`` started, so that it stops exactly that."""

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    redis_home: Path | None = None
    logs: list[IO[bytes]] = field(default_factory=list)


def api_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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
        start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
    )
    started.processes.append((name, process))
    started.logs.append(handle)
    return process


def stop(started: Started, console: Console) -> None:
    for name, process in reversed(started.processes):
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        console.print(f"stopped {name}")
    for handle in started.logs:
        handle.close()
    if started.redis_home is not None and stop_embedded(started.redis_home):
        console.print("stopped the embedded Redis server (data kept)")


def status_line(
    policy: GlobalPolicy, regime: str | None, engine: dict[str, Any] | None, health: str | None
) -> str:
    top = sorted(policy.opp_rankings.items(), key=lambda item: (-item[1], item[0]))[:3]
    ranking = ", ".join(f"{symbol} {score:.2f}" for symbol, score in top) or "-"
    emergency = f"  EMERGENCY: {policy.emergency.reason}" if policy.emergency.active else ""
    trading = "engine -"
    if engine is not None:
        report = engine["report"]
        trading = (
            f"engine {report['positions']} positions, equity {report['equity']:,.0f}, "
            f"ESS {report['ess_state']}"
        )
    return (
        f"{datetime.now(UTC):%H:%M:%S}  risk {policy.risk_mode.value:<10} "
        f"regime {regime or '-':<14} top {ranking}  universe {len(policy.active_universe)}  "
        f"{trading}  health {health or '-'}  (policy v{policy.version}){emergency}"
    )


def run_first(api_url: str, console: Console) -> None:
    """Start one run of each deployment now (the ranking first: the universe needs it)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    names = [spec.name for spec in load_specs() if spec.schedules]  # not trigger-only ones
    order = [n for n in FIRST_RUN_ORDER if n in names] + [
        n for n in names if n not in FIRST_RUN_ORDER
    ]
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:

        def registered() -> bool:
            try:
                for name in names:
                    client.read_deployment_by_name(f"{name}/{name}")
            except Exception:
                return False
            return True

        wait_for("the deployments to register", registered, 120, console)
        for name in order:
            run = run_deployment(f"{name}/{name}", timeout=0)
            console.print(f"started a first run of {name} ({run.name})")
            if name == "opportunity-ranking":
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    state = client.read_flow_run(run.id).state
                    if state is not None and state.is_final():
                        break
                    time.sleep(0.5)


def follow_status(settings: Settings, console: Console, *, every_s: float = 2.0) -> None:
    """Print the status now and again whenever it changes (until Ctrl-C)."""
    client = connect(settings)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    health = HealthStore(client, namespace=settings.namespace)
    bus = RedisEventBus(client, namespace=settings.namespace)
    shown = ""
    while True:
        assessed = bus.tail("regime.assessed", count=1)
        regime = assessed[0].payload.market_state if assessed else None  # type: ignore[attr-defined]
        record = health.get()
        line = status_line(
            store.get(),
            regime,
            read_heartbeat(client, settings.namespace),
            record.status.value if record else None,
        )
        if line.split("  ", 1)[1] != shown:  # the same status again: stay quiet
            console.print(line)
            shown = line.split("  ", 1)[1]
        time.sleep(every_s)


def start_api(
    settings: Settings, env: dict[str, str], logs: Path, started: Started, console: Console
) -> None:
    """Start ``quantum-trader api`` (the HTTP API, the dashboard, metrics and alerts) and
    print where it answers."""
    from components.access import TokenStore, api_base_url
    from deployments.api.server import check_bind

    check_bind(settings, settings.api_host)
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


def up(settings: Settings, *, port: int = 4200, console: Console | None = None) -> int:
    console = console or Console()
    signal.signal(signal.SIGTERM, _interrupt)
    started = Started()
    home = settings.home.expanduser().resolve()
    logs = home / "logs"
    # Children run from the project folder: hand them absolute paths, so a relative
    # QT_HOME means the same embedded Redis for them as for this process.
    env = {**os.environ, **PREFECT_QUIET, "QT_HOME": str(home)}
    if settings.market.folder is not None:
        env["QT_MARKET_FOLDER"] = str(settings.market.folder.expanduser().resolve())
    try:
        if settings.redis_url is None and not embedded_socket_path(home).exists():
            started.redis_home = home
        connect(settings)
        console.print(f"Redis: {settings.redacted_redis_url()} (namespace {settings.namespace})")

        api_url = os.environ.get("PREFECT_API_URL", "")
        if not api_url:
            api_url = f"http://127.0.0.1:{port}/api"
            if not api_healthy(api_url):
                # The UI asks PREFECT_UI_API_URL for its API; unset, it assumes port 4200.
                server_env = {
                    **env,
                    "PREFECT_HOME": str(home / "prefect"),
                    "PREFECT_UI_API_URL": api_url,
                }
                server = start(
                    "the Prefect server",
                    [
                        sys.executable,
                        "-m",
                        "prefect",
                        "server",
                        "start",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    server_env,
                    logs / "prefect-server.log",
                    started,
                )
                wait_for(
                    "the Prefect server",
                    lambda: api_healthy(api_url),
                    180,
                    console,
                    server,
                    logs / "prefect-server.log",
                )
        elif not api_healthy(api_url):
            raise RuntimeError(f"PREFECT_API_URL={api_url} does not answer")
        env["PREFECT_API_URL"] = api_url
        console.print(f"Prefect UI: [bold]{api_url.removesuffix('/api')}[/bold]")
        console.print(f"  (for the prefect CLI: export PREFECT_API_URL={api_url})")

        start(
            "the deployments (serve)",
            [sys.executable, "-m", "deployments.serve"],
            env,
            logs / "serve.log",
            started,
        )
        start_api(settings, env, logs, started, console)
        run_first(api_url, console)
        console.print(f"logs: {logs}; Ctrl-C stops everything this started")
        follow_status(settings, console)
    except KeyboardInterrupt:
        console.print("\nstopping...")
    except (RuntimeError, QuantumTraderError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            stop(started, console)
    return 0
