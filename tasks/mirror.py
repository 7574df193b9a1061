"""The Prefect mirror of the EventBus: every published event also becomes a Prefect event
(``quantum-trader.<type>``), so the Prefect UI shows it and automations can trigger
deployments on it. A failure here never fails a publish (the bus catches and counts it).
"""

from __future__ import annotations

import functools

from components.events import Event, EventBus, event_to_json
from tasks.liveness import deployment_name

RESOURCE_PREFIX = "quantum-trader"


def prefect_event_name(event_type: str) -> str:
    return f"{RESOURCE_PREFIX}.{event_type}"


def prefect_resource_id(event_type: str, namespace: str) -> str:
    """The Prefect resource an account's event is about: the event's name with the account's
    deployment suffix (``quantum-trader.health.status_changed-acct2``; none for the default
    account), so an automation of one account's deployments matches its own events only, as
    ``{{ $QT_DEPLOYMENT_SUFFIX }}`` fills prefect.yaml's triggers."""
    return prefect_event_name(event_type) + deployment_name("", namespace)


def mirror_to_prefect(event: Event, namespace: str) -> None:
    """Emit ``event`` of account ``namespace`` as a Prefect event (queued; sent by Prefect's
    events worker)."""
    from prefect.events import emit_event

    name = prefect_event_name(event.type)
    resource = {
        "prefect.resource.id": prefect_resource_id(event.type, namespace),
        "prefect.resource.name": event.type,
        "quantum-trader.event-id": event.id,
    }
    # A status or state becomes a resource label, so an automation can match on it
    # (emergency-response triggers on quantum-trader.status = CRITICAL).
    for field in ("status", "state", "mode"):
        value = getattr(event.payload, field, None)
        if isinstance(value, str):
            resource[f"quantum-trader.{field}"] = value
    emit_event(
        event=name,
        resource=resource,
        occurred=event.occurred_at,
        payload=event_to_json(event),
    )


def prefect_api_reachable() -> bool:
    """True when a Prefect API is configured (``PREFECT_API_URL``). Without one, emitting
    would start a throw-away server per process, so we do not mirror at all."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def attach_prefect_mirror(bus: EventBus, namespace: str) -> bool:
    """Add the Prefect mirror of account ``namespace``'s events to ``bus`` when an API is
    reachable; returns whether it did."""
    if not prefect_api_reachable():
        return False
    bus.add_mirror(functools.partial(mirror_to_prefect, namespace=namespace))
    return True
