from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.errors import ConfigurationError
from deployments.specs import PREFECT_YAML, load_specs, runner_deployments
from tasks.liveness import deployment_name

SCHEDULES = {
    "msc-evaluation": ("interval", 1800),
    "opportunity-ranking": ("interval", 300),
    "universe-refresh": ("interval", 3600),
    "health-check": ("interval", 60),
    "trading-engine": ("interval", 300),
}


def test_prefect_yaml_holds_every_deployment_with_its_exact_schedule() -> None:
    specs = {spec.name: spec for spec in load_specs()}
    assert SCHEDULES.keys() <= specs.keys()
    for name, (kind, value) in SCHEDULES.items():
        (schedule,) = specs[name].schedules
        assert getattr(schedule, kind) == value


def test_serve_builds_its_deployments_from_the_same_file() -> None:
    specs = {spec.name: spec for spec in load_specs()}
    deployments = {d.name: d for d in runner_deployments(list(specs.values()))}
    for name, (_, seconds) in SCHEDULES.items():
        (schedule,) = deployments[name].schedules
        assert schedule.schedule.interval.total_seconds() == seconds
        assert deployments[name].entrypoint == specs[name].entrypoint


def test_a_broken_entry_names_the_deployment(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text("deployments:\n  - name: broken\n    schedules: []\n")
    with pytest.raises(ConfigurationError, match="deployment broken"):
        load_specs(path)


def test_the_engine_runs_one_at_a_time_and_cancels_newcomers() -> None:
    (engine,) = [d for d in runner_deployments(load_specs()) if d.name == "trading-engine"]
    assert engine.concurrency_limit == 1
    assert engine.concurrency_options.collision_strategy.value == "CANCEL_NEW"


def test_emergency_response_is_triggered_by_a_critical_health_event() -> None:
    (response,) = [d for d in runner_deployments(load_specs()) if d.name == "emergency-response"]
    assert not response.schedules
    (trigger,) = response.triggers
    assert trigger.expect == {"quantum-trader.health.status_changed"}
    assert trigger.match.root["quantum-trader.status"] == "CRITICAL"


def _crash_of(deployment: str) -> Any:
    """The event of an engine session of ``deployment`` marked Crashed because its
    process died, with the related resources Prefect's server gives a flow run."""
    from prefect.server.events.schemas.events import ReceivedEvent

    return ReceivedEvent(
        occurred=datetime.now(UTC),
        event="prefect.flow-run.Crashed",
        resource={
            "prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}",
            "prefect.resource.name": "silent-session",
            "prefect.state-message": "process gone: no heartbeat for 90 s",
            "prefect.state-type": "CRASHED",
        },
        related=[
            {
                "prefect.resource.id": f"prefect.flow.{uuid.uuid4()}",
                "prefect.resource.role": "flow",
                "prefect.resource.name": "trading-engine",
            },
            {
                "prefect.resource.id": f"prefect.deployment.{uuid.uuid4()}",
                "prefect.resource.role": "deployment",
                "prefect.resource.name": deployment,
            },
            {"prefect.resource.id": "prefect.tag.quantum-trader", "prefect.resource.role": "tag"},
        ],
        id=uuid.uuid4(),
    )


def _engine_restart_trigger(namespace: str) -> Any:
    """The trading engine's restart trigger of ``namespace``'s deployments, as the server
    evaluates it."""
    from prefect.server.events.schemas.automations import EventTrigger

    name = deployment_name("trading-engine", namespace)
    (engine,) = [d for d in runner_deployments(load_specs(namespace=namespace)) if d.name == name]
    (trigger,) = engine.triggers
    return EventTrigger.model_validate(trigger.model_dump(include=set(EventTrigger.model_fields)))


ACCOUNTS = ("qt", "acct2", "acct3")


@pytest.mark.parametrize("namespace", ACCOUNTS)
def test_the_engine_restarts_on_a_crash_of_its_own_accounts_deployment_only(
    namespace: str,
) -> None:
    trigger = _engine_restart_trigger(namespace)

    for other in ACCOUNTS:
        crash = _crash_of(deployment_name("trading-engine", other))
        assert trigger.covers(crash) == (other == namespace), (namespace, other)
    assert not trigger.covers(_crash_of(deployment_name("health-check", namespace)))


def test_prefect_deploy_fills_the_restart_trigger_as_serve_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`quantum-trader deploy` runs `prefect deploy --all` with QT_DEPLOYMENT_SUFFIX set;
    Prefect fills the templates from the environment (as its deploy command does)."""
    from prefect.utilities.templating import apply_values

    raw = yaml.safe_load(PREFECT_YAML.read_text())
    (entry,) = [d for d in raw["deployments"] if d["entrypoint"].endswith(":trading_engine")]
    for namespace in ACCOUNTS:
        monkeypatch.setenv("QT_DEPLOYMENT_SUFFIX", deployment_name("", namespace))
        deployed = apply_values(entry, os.environ, remove_notset=False)
        (served,) = [
            s for s in load_specs(namespace=namespace) if s.entrypoint == entry["entrypoint"]
        ]
        assert deployed["name"] == served.name
        assert deployed["triggers"] == served.triggers


def _critical_health_of(namespace: str) -> Any:
    """The Prefect event the mirror emits when ``namespace``'s health turns CRITICAL."""
    from prefect.server.events.schemas.events import ReceivedEvent

    from tasks.mirror import prefect_event_name, prefect_resource_id

    return ReceivedEvent(
        occurred=datetime.now(UTC),
        event=prefect_event_name("health.status_changed"),
        resource={
            "prefect.resource.id": prefect_resource_id("health.status_changed", namespace),
            "prefect.resource.name": "health.status_changed",
            "quantum-trader.status": "CRITICAL",
        },
        id=uuid.uuid4(),
    )


@pytest.mark.parametrize("namespace", ACCOUNTS)
def test_the_emergency_response_answers_its_own_accounts_critical_health_only(
    namespace: str,
) -> None:
    from prefect.server.events.schemas.automations import EventTrigger

    name = deployment_name("emergency-response", namespace)
    (response,) = [d for d in runner_deployments(load_specs(namespace=namespace)) if d.name == name]
    (raw,) = response.triggers
    trigger = EventTrigger.model_validate(raw.model_dump(include=set(EventTrigger.model_fields)))
    for other in ACCOUNTS:
        covered = trigger.covers(_critical_health_of(other))
        assert covered == (other == namespace), (namespace, other)
