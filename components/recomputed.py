"""Models whose computed fields travel in their JSON but are recomputed, not read back."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


class Recomputed(BaseModel):
    """A model that accepts its own JSON back: its ``computed_field`` values (in every dump)
    are dropped on the way in and recomputed from the stored fields.

    >>> LedgerState.model_validate_json(state.model_dump_json()) == state
    """

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            computed = cls.model_computed_fields
            return {k: v for k, v in data.items() if k not in computed}
        return data
