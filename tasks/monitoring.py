"""What flows leave for monitoring: the time of their last successful run."""

from __future__ import annotations

import logging
from typing import Any

from components.errors import QuantumTraderError
from components.monitoring import Telemetry
from components.settings import load_settings
from tasks.runtime import redis_client

log = logging.getLogger(__name__)


def record_success(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_completion`` hook: ``<flow name>`` succeeded at the state's time (what
    ``quantum_trader_deployment_last_success_age_seconds`` reports). Never raises."""
    try:
        settings = load_settings()
        Telemetry(redis_client(settings), namespace=settings.namespace).record_success(
            flow.name, state.timestamp
        )
    except QuantumTraderError as exc:
        log.warning("cannot record the success of %s: %s", flow.name, exc)
