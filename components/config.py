"""How a component declares its settings.

A component's config is a frozen pydantic model beside the component (unknown fields
refused, every field bounded, defaults documented). :class:`~components.settings.Settings`
nests it as a section, so each setting is declared once, where it is used::

    settings.engine.timeframe      # QT_ENGINE__TIMEFRAME=5m, or the flat QT_ENGINE_TIMEFRAME=5m

Every setting also answers to a flat name, the one it had before sections existed:
``QT_`` + its path joined by ``_`` (``engine.timeframe`` -> ``QT_ENGINE_TIMEFRAME``),
unless a field says otherwise with :class:`Flat` in its annotation:
``Flat(prefix="")`` on a section drops the section's name from its settings' flat names
(``policy.max_positions`` -> ``QT_MAX_POSITIONS``), ``Flat(segment="min_confidence")``
renames one step, and ``Flat("QT_ESS_COOLDOWN_S")`` names a setting's flat alias outright.
When both are set, the nested name wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

ENV_PREFIX = "QT_"
NESTED = "__"


class ComponentConfig(BaseModel):
    """Base of every component config: frozen, unknown fields refused; a part given for a
    nested config (``QT_LIMITS__DEFENSIVE__MAX_POSITIONS`` alone) keeps the rest of its
    default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __hash__(self) -> int:
        # Settings are a cache key (one runtime per settings); a config holding a dict
        # (the MSC's allowed strategies) hashes by its content.
        return hash(self.model_dump_json())

    @model_validator(mode="before")
    @classmethod
    def _complete_parts(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        whole = dict(data)
        for name, field in cls.model_fields.items():
            part = whole.get(name)
            if isinstance(part, dict) and isinstance(field.default, BaseModel):
                whole[name] = {**field.default.model_dump(), **part}
        return whole


class ModuleMode(StrEnum):
    """How much a decision-making module may steer: OFF, OBSERVE (decide, publish, leave
    the policy alone) or ENFORCED (write the policy)."""

    OFF = "OFF"
    OBSERVE = "OBSERVE"
    ENFORCED = "ENFORCED"


@dataclass(frozen=True)
class Flat:
    """The flat (pre-section) name of a setting, or of a section's settings; see the module
    docstring. ``name`` is a whole variable name, ``prefix`` replaces a section's part of
    its settings' names (after ``QT_``), ``segment`` replaces one field's part."""

    name: str | None = None
    prefix: str | None = None
    segment: str | None = None


def declared(model: type[BaseModel], name: str) -> Any:
    """The field ``name`` as ``model`` declares it (default, bounds, description), for a
    second model that takes the same setting: it is declared once, in the settings section,
    e.g. ``threshold: float = declared(ClmConfig, "threshold")``."""
    return model.model_fields[name]


def _seconds(value: Any) -> Any:
    """A duration given as a number (or a numeric string, as variables are) is seconds."""
    if isinstance(value, str):
        try:
            return timedelta(seconds=float(value))
        except ValueError:
            return value
    return value


def _bounded(value: timedelta) -> timedelta:
    if not timedelta(0) < value <= timedelta(days=30):
        raise ValueError(f"{value} must be longer than 0 and at most 30 days")
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds), AfterValidator(_bounded)]
"""A duration longer than 0 and at most 30 days; a number (``1800``) is seconds, and ISO
8601 (``PT30M``) works too."""


@dataclass(frozen=True)
class SettingName:
    """Where one setting lives: its path, its nested variable and its flat alias."""

    path: tuple[str, ...]
    nested: str
    flat: str


def setting_names(model: type[BaseModel]) -> Iterator[SettingName]:
    """Every leaf setting of ``model`` (Settings), sections walked depth first."""
    yield from _walk(model, (), ENV_PREFIX)


def _walk(model: type[BaseModel], path: tuple[str, ...], flat_prefix: str) -> Iterator[SettingName]:
    for name, field in model.model_fields.items():
        flat = next((m for m in field.metadata if isinstance(m, Flat)), Flat())
        here = (*path, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            prefix = ENV_PREFIX + flat.prefix if flat.prefix is not None else None
            segment = (flat.segment or name).upper() + "_"
            yield from _walk(annotation, here, prefix or flat_prefix + segment)
            continue
        nested = ENV_PREFIX + NESTED.join(part.upper() for part in here)
        alias = flat.name or flat_prefix + (flat.segment or name).upper()
        yield SettingName(here, nested, alias)
