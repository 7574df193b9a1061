"""Past one machine: ``quantum-trader server`` and ``quantum-trader deploy``.

``server`` runs Prefect's server, authenticated (:mod:`deployments.prefect_server`), on
PostgreSQL when given a database URL (``postgresql+asyncpg://user:password@host/db``;
the URL is a secret like the auth string: passed in the environment, shown redacted),
with its migrations applied first. Workers on any machine then need only the installed
package, ``PREFECT_API_URL``, ``PREFECT_API_AUTH_STRING`` and ``QT_REDIS_URL``.

``deploy`` is a thin wrapper around ``prefect deploy --all``: it makes sure the work pool
exists, deploys prefect.yaml for one account (``QT_NAMESPACE``: the deployments are named
for it), creates the automations of prefect.yaml, and starts a first run of each scheduled
deployment, so the policy is populated at once instead of in 30 minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from components.errors import ConfigurationError, TemporaryError
from components.settings import Settings, redact_url
from deployments.prefect_server import (
    api_healthy,
    auth_accepted,
    auth_path,
    auth_string,
    server_command,
    server_env,
)
from deployments.specs import (
    PROJECT_ROOT,
    apply_automations,
    full_names,
    load_automations,
    load_specs,
)
from deployments.up import PrefectApi, prefect_client, run_first, start_runs
from tasks.liveness import deployment_name

WORK_POOL = "quantum-trader"
PREFECT = str(Path(sys.executable).parent / "prefect")


def prefect_cli(*argv: str, env: dict[str, str], timeout_s: float = 600) -> str:
    """Run the ``prefect`` command line; its output, or TemporaryError with its last lines."""
    done = subprocess.run(
        [PREFECT, "--no-prompt", *argv], cwd=PROJECT_ROOT, env=env,
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        raise TemporaryError(f"prefect {' '.join(argv[:2])} failed: {tail}")
    return done.stdout


def api_from_env() -> PrefectApi:
    """The Prefect API named by ``PREFECT_API_URL`` (+ ``PREFECT_API_AUTH_STRING``).

    Raises
    ------
    ConfigurationError
        It is unset, does not answer, or refuses the credentials.
    """
    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        raise ConfigurationError(
            "PREFECT_API_URL is not set: point it at the Prefect server "
            "(`quantum-trader server` prints it), with PREFECT_API_AUTH_STRING"
        )
    api = PrefectApi(url, os.environ.get("PREFECT_API_AUTH_STRING") or None)
    if not api_healthy(url):
        raise ConfigurationError(f"PREFECT_API_URL={url} does not answer")
    if not auth_accepted(url, api.auth or ":"):
        raise ConfigurationError(f"PREFECT_API_URL={url} refuses PREFECT_API_AUTH_STRING")
    return api


def deploy(
    settings: Settings,
    api: PrefectApi,
    *,
    first_runs: bool = True,
    console: Console,
) -> list[str]:
    """Deploy prefect.yaml for ``settings.namespace``; returns the deployments' names."""
    suffix = deployment_name("", settings.namespace)
    env = {
        **os.environ,
        **api.env(),
        "QT_NAMESPACE": settings.namespace,
        "QT_DEPLOYMENT_SUFFIX": suffix,
    }
    env.pop("QT_REDIS_URL", None)  # a secret never goes into a deployment
    with prefect_client(api) as client:
        pools = {pool.name for pool in client.read_work_pools()}
    if WORK_POOL not in pools:  # the pool of every deployment in prefect.yaml
        prefect_cli("work-pool", "create", WORK_POOL, "--type", "process", env=env)
        console.print(f"created work pool {WORK_POOL} (process)")
    prefect_cli("deploy", "--all", env=env)
    names = sorted(full_names(load_specs(namespace=settings.namespace)).values())
    with prefect_client(api) as client:
        for name in names:  # fails loudly if `prefect deploy` skipped one
            client.read_deployment_by_name(name)
    console.print(f"deployed {len(names)} deployments for namespace {settings.namespace}")
    with prefect_client(api) as client:
        created = apply_automations(client, load_automations())
    console.print(f"automations: {', '.join(created) or 'up to date'}")
    if first_runs:
        # No engine here to wait for (up defers research until its first cycle): the
        # research runs go to the workers now, with the rest.
        start_runs(api, console, run_first(api, settings.namespace, console))
    return names


def server(
    settings: Settings,
    *,
    host: str,
    port: int,
    database_url: str | None,
    console: Console,
) -> int:
    """Run the authenticated Prefect server in the foreground until Ctrl-C."""
    home = settings.home.expanduser().resolve()
    auth = auth_string(home)
    env = {**os.environ, **server_env(home, auth, database_url=database_url)}
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    where = redact_url(database_url) if database_url else f"SQLite under {home / 'prefect'}"
    console.print(f"database: {where}")
    if database_url:
        prefect_cli("server", "database", "upgrade", "-y", env=env, timeout_s=900)
        console.print("migrations applied")
    api_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/api"
    console.print(f"Prefect API: {api_url} (UI: {api_url.removesuffix('/api')})")
    console.print(
        f"  clients: export PREFECT_API_URL={api_url} "
        f'PREFECT_API_AUTH_STRING="$(cat {auth_path(home)})"'
        if not os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
        else f"  clients: export PREFECT_API_URL={api_url} and your PREFECT_API_AUTH_STRING"
    )
    process = subprocess.Popen(server_command(host, port), env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()
