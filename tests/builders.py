"""Small builders tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from components.events import Event

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ess_event(reason: str = "test", state: str = "HALTED", **kwargs: Any) -> Event:
    """A small valid event."""
    return Event.create(
        "ess.state_changed",
        {"state": state, "reason": reason, "by": "tests"},
        source="tests",
        **kwargs,
    )
