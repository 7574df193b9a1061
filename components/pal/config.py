"""The settings of the Profit Amplification Layer (``settings.pal``; ``QT_PAL__*``, flat
``QT_PAL_*``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import NoDecode

from components.config import ComponentConfig, ModuleMode


def _levels(value: Any) -> Any:
    """``"2, 3"`` (a variable) -> ``(2.0, 3.0)``; anything else as given."""
    if isinstance(value, str):
        return tuple(float(part) for part in value.replace(";", ",").split(",") if part.strip())
    return value


PAL_ORDER_MARK = ":pal:"
"""In the client order id of every order the layer places (``<position id>:pal:add:1``),
so analytics can tell its fills apart."""


class PalConfig(ComponentConfig):
    """How the Profit Amplification Layer manages a winning position, in R: multiples of
    the position's initial risk per unit (entry price to initial stop).

    >>> PalConfig(mode="OBSERVE", partial_r=(1.5, 3.0), scale_in_r=1.0)
    """

    mode: ModuleMode = Field(
        ModuleMode.OFF,
        description="OFF, OBSERVE (log what it would do) or ENFORCED (do it). Off by default; "
        "the risk mode DEFENSIVE switches it off whatever this says.",
    )
    partial_r: Annotated[tuple[float, ...], NoDecode, BeforeValidator(_levels)] = Field(
        (2.0, 3.0),
        max_length=5,
        description="Take a partial profit at each of these R (comma-separated in a variable).",
    )
    partial_fraction: float = Field(
        0.25, gt=0, le=1, description="Share of the initial size each partial takes."
    )
    scale_in_r: float | None = Field(
        1.0, gt=0, le=20, description="Add to a winner at this R (then 2x, 3x ...); None: never."
    )
    scale_in_fraction: float = Field(
        0.5, gt=0, le=2, description="Each add, as a share of the initial size."
    )
    max_scale_ins: int = Field(1, ge=0, le=5, description="Adds per position at most.")
    trail_r: float | None = Field(
        1.0, gt=0, le=20, description="From this R the stop trails; None: never."
    )
    trail_atr: float = Field(
        2.0, gt=0, le=20, description="Trailing distance in ATRs (never below break-even)."
    )

    @model_validator(mode="after")
    def _check(self) -> PalConfig:
        if any(r <= 0 or r > 50 for r in self.partial_r):
            raise ValueError(f"partial_r={self.partial_r} must be in (0, 50]")
        if list(self.partial_r) != sorted(set(self.partial_r)):
            raise ValueError(f"partial_r={self.partial_r} must be increasing")
        return self
