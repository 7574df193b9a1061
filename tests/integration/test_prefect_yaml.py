"""``prefect deploy --all`` accepts prefect.yaml against a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.events.schemas.events import ResourceSpecification

from deployments.specs import PROJECT_ROOT, load_specs
from tasks.mirror import prefect_resource_id

pytestmark = pytest.mark.usefixtures("prefect_server")


def prefect(*argv: str) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    return subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "--no-prompt", *argv],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_prefect_deploy_all_accepts_every_deployment_with_its_schedule() -> None:
    from prefect.client.orchestration import get_client

    created = prefect("work-pool", "create", "quantum-trader", "--type", "process")
    assert created.returncode == 0 or "already exists" in created.stdout, created.stdout

    deployed = prefect("deploy", "--all")

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    with get_client(sync_client=True) as client:
        for spec in load_specs():
            deployment = client.read_deployment_by_name(f"{spec.name}/{spec.name}")
            if not spec.schedules:  # trigger-only (emergency-response): no schedule at all
                assert deployment.schedules == []
                continue
            (schedule,) = deployment.schedules
            expected = spec.schedules[0]
            if expected.interval is not None:
                assert schedule.schedule.interval.total_seconds() == expected.interval
            else:
                assert schedule.schedule.cron == expected.cron

    # The engine's restart trigger, as `prefect deploy` filled it (no QT_DEPLOYMENT_SUFFIX:
    # the default account), matches a crash of this deployment only.
    with get_client(sync_client=True) as client:
        engine = client.read_deployment_by_name("trading-engine/trading-engine")
        automations = client.read_automations()
    (restart,) = [
        a
        for a in automations
        if any(getattr(action, "deployment_id", None) == engine.id for action in a.actions)
    ]
    assert restart.trigger.match_related == ResourceSpecification(
        {"prefect.resource.role": "deployment", "prefect.resource.name": "trading-engine"}
    )
    # The emergency response answers this account's CRITICAL health only.
    with get_client(sync_client=True) as client:
        response = client.read_deployment_by_name("emergency-response/emergency-response")
    (emergency,) = [
        a
        for a in automations
        if any(getattr(action, "deployment_id", None) == response.id for action in a.actions)
    ]
    assert emergency.trigger.match.root["prefect.resource.id"] == prefect_resource_id(
        "health.status_changed", "qt"
    )
