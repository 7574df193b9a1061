"""Small builders tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from components.events import Event

T0 = datetime(2026, 1, 1, tzinfo=UTC)

PINNED_NOW = datetime(2026, 3, 1, tzinfo=UTC)
"""The time the tests' flows and commands read as now (``QT_CLOCK`` of the ``settings``
fixture): the synthetic market looks the same at every hour the suite runs."""


def ess_event(reason: str = "test", state: str = "HALTED", **kwargs: Any) -> Event:
    """A small valid event."""
    return Event.create(
        "ess.state_changed",
        {"state": state, "reason": reason, "by": "tests"},
        source="tests",
        **kwargs,
    )
