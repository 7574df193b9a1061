"""The deployments of ``prefect.yaml``, read once, for ``serve`` and the command line.

``prefect.yaml`` is the one source of truth for names, entry points, schedules,
concurrency limits and triggers: ``prefect deploy --all`` reads it for work pools, and
:func:`runner_deployments` turns the same entries into deployments ``serve`` can run.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from components.errors import ConfigurationError
from tasks.liveness import deployment_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"
_SUFFIX = re.compile(r"\{\{\s*\$QT_DEPLOYMENT_SUFFIX\s*\}\}")


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


def load_specs(path: Path = PREFECT_YAML, *, namespace: str | None = None) -> list[DeploymentSpec]:
    """Every deployment in ``path``; with ``namespace``, named for that account
    (:func:`tasks.liveness.deployment_name`: the default namespace keeps the plain names).

    Raises
    ------
    ConfigurationError
        The file is missing or malformed (names the deployment and the field).
    """
    document = _read(path)
    # `{{ $QT_DEPLOYMENT_SUFFIX }}` (in names, and in triggers that match the account's own
    # deployment) becomes the account's suffix, as `prefect deploy` fills it from the
    # environment `quantum-trader deploy` sets.
    suffix = "" if namespace is None else deployment_name("", namespace)
    specs = []
    for index, raw in enumerate(document.get("deployments") or []):
        entry = _fill(raw, suffix)
        try:
            specs.append(DeploymentSpec.model_validate(entry))
        except ValueError as exc:
            name = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
            raise ConfigurationError(f"{path} deployment {name}: {exc}") from None
    return specs


def _fill(value: Any, suffix: str) -> Any:
    """``value`` with every ``{{ $QT_DEPLOYMENT_SUFFIX }}`` replaced by ``suffix``."""
    if isinstance(value, str):
        return _SUFFIX.sub(suffix, value)
    if isinstance(value, dict):
        return {key: _fill(item, suffix) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, suffix) for item in value]
    return value


def load_flow(entrypoint: str) -> Any:
    """The flow object of ``flows.x:name`` (a module of the installed package, as workers
    load it) or ``flows/x.py:name`` (imported as the module ``flows.x``)."""
    path, _, attribute = entrypoint.partition(":")
    module_name = path.removesuffix(".py").replace("/", ".")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"entrypoint {entrypoint!r} cannot be loaded: {exc}") from None


def full_names(specs: list[DeploymentSpec]) -> dict[str, str]:
    """``flow/deployment`` of each spec, keyed by the flow's name (the deployments of one
    account: every flow has one deployment)."""
    names = {}
    for spec in specs:
        flow_name = load_flow(spec.entrypoint).name
        names[flow_name] = f"{flow_name}/{spec.name}"
    return names


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
        deployments[-1].entrypoint = spec.entrypoint  # the module, as workers load it
    return deployments


def load_automations(path: Path = PREFECT_YAML) -> list[Any]:
    """The ``automations:`` of ``path`` as Prefect ``AutomationCore`` objects.

    Raises
    ------
    ConfigurationError
        An entry is malformed (names the automation).
    """
    from prefect.events.schemas.automations import AutomationCore

    document = _read(path)
    automations = []
    for index, entry in enumerate(document.get("automations") or []):
        try:
            automations.append(AutomationCore.model_validate(entry))
        except ValueError as exc:
            name = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
            raise ConfigurationError(f"{path} automation {name}: {exc}") from None
    return automations


def apply_automations(client: Any, automations: list[Any]) -> list[str]:
    """Create each automation unless one of the same name and content exists; replace one
    that differs (``client``: a synchronous Prefect client). Applying twice leaves one of
    each, and an unchanged automation keeps its state (a proactive trigger its pending
    expectations, across a server restart). Returns the names created or replaced."""
    changed = []
    for automation in automations:
        existing = client.read_automations_by_name(automation.name)
        if len(existing) == 1 and _content(existing[0]) == _content(automation):
            continue
        for old in existing:
            client.delete_automation(old.id)
        client.create_automation(automation)
        changed.append(automation.name)
    return changed


def _content(automation: Any) -> dict[str, Any]:
    """What an automation does, without the ids and times the server adds."""
    from prefect.events.schemas.automations import AutomationCore

    content: dict[str, Any] = automation.model_dump(
        mode="json", include=set(AutomationCore.model_fields)
    )
    content["trigger"].pop("id", None)
    return content


def _read(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None
    return document if isinstance(document, dict) else {}
