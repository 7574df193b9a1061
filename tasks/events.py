"""Tasks that publish on the EventBus."""

from __future__ import annotations

from components.events import Event
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@io_task("publish_event")
def publish_event(settings: Settings, event: Event) -> str:
    """Publish ``event`` (and hand it to the Prefect mirror); returns its id."""
    runtime(settings).bus.publish(event)
    return event.id
