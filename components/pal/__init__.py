"""The Profit Amplification Layer: add to winners, take partial profits, trail the stop
(:mod:`components.pal.layer`), with its settings (:class:`PalConfig`)."""

from components.pal.config import PalConfig
from components.pal.layer import PalDecision, PalState, amplify, effective_mode

__all__ = ["PalConfig", "PalDecision", "PalState", "amplify", "effective_mode"]
