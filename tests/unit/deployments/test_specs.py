from __future__ import annotations

from pathlib import Path

import pytest

from components.errors import ConfigurationError
from deployments.specs import load_specs, runner_deployments

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
