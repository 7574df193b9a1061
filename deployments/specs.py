"""The deployments of ``prefect.yaml``, read once, for ``serve`` and the command line.

``prefect.yaml`` is the one source of truth for names, entry points, schedules,
concurrency limits and triggers: ``prefect deploy --all`` reads it for work pools, and
:func:`runner_deployments` turns the same entries into deployments ``serve`` can run.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    interval: float | None = Field(None, gt=0)
    cron: str | None = None
    timezone: str | None = None
    active: bool = True


class DeploymentSpec(BaseModel):
    """One entry of ``deployments:`` in prefect.yaml (the fields serve needs)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = []
    parameters: dict[str, Any] = {}
    schedules: list[ScheduleSpec] = []
    concurrency_limit: int | dict[str, Any] | None = None
    triggers: list[dict[str, Any]] = []


def load_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """Every deployment in ``path``.

    Raises
    ------
    ConfigurationError
        The file is missing or malformed (names the deployment and the field).
    """
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    specs = []
    for index, entry in enumerate(document.get("deployments") or []):
        try:
            specs.append(DeploymentSpec.model_validate(entry))
        except ValueError as exc:
            name = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
            raise ConfigurationError(f"{path} deployment {name}: {exc}") from None
    return specs


def load_flow(entrypoint: str) -> Any:
    """The flow object of ``flows/x.py:name``, imported as the module ``flows.x`` (so the
    deployment records an importable entry point)."""
    path, _, attribute = entrypoint.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"entrypoint {entrypoint!r} cannot be loaded: {exc}") from None


def runner_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve`` (no work pool needed)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.events import DeploymentTriggerTypes
    from prefect.schedules import Cron, Interval
    from pydantic import TypeAdapter

    trigger_adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)

    deployments = []
    for spec in specs:
        flow = load_flow(spec.entrypoint)
        schedules = [
            Interval(s.interval, timezone=s.timezone, active=s.active)
            if s.interval is not None
            else Cron(s.cron or "", timezone=s.timezone, active=s.active)
            for s in spec.schedules
        ]
        limit = spec.concurrency_limit
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig.model_validate(limit)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                tags=spec.tags,
                parameters=spec.parameters,
                schedules=schedules or None,
                concurrency_limit=limit,
                triggers=[trigger_adapter.validate_python(t) for t in spec.triggers] or None,
            )
        )
    return deployments
