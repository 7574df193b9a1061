"""The settings of the active universe (``settings.universe``; ``QT_UNIVERSE__*``, flat
``QT_UNIVERSE_*``)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from components.config import ComponentConfig, ModuleMode


class UniverseConfig(ComponentConfig):
    """Entry and exit bars and the size of the active universe.

    The best few of a 24-symbol market score 0.45-0.8 (quiet to trending): a newcomer
    needs a better-than-middling score, an incumbent keeps its place a little below it.
    """

    mode: ModuleMode = ModuleMode.ENFORCED
    min_score: float = Field(0.45, ge=0, le=1, description="Score a newcomer needs.")
    exit_score: float = Field(0.35, ge=0, le=1, description="Score an incumbent keeps.")
    max_size: int = Field(10, ge=0, le=10_000, description="Symbols chosen on score.")

    @model_validator(mode="after")
    def _exit_below_entry(self) -> Self:
        if self.exit_score > self.min_score:
            raise ValueError(
                f"exit_score={self.exit_score} must not be above min_score={self.min_score}"
            )
        return self
