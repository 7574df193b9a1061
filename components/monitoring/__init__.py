"""Monitoring: the telemetry the engine and the flows leave in Redis (cycle latency,
equity per cycle, last successful run per flow), and Prometheus metrics read from it.

Telemetry(client, namespace="qt").equity_history()
registry.register(MetricsCollector.connect(settings, clock=SystemClock()))  # .metrics

The collector lives in :mod:`components.monitoring.metrics` (it reads the engine's
heartbeat, so the engine can import the telemetry without a cycle).
"""

from components.monitoring.telemetry import CYCLE_BUCKETS, EquityPoint, Histogram, Telemetry

__all__ = ["CYCLE_BUCKETS", "EquityPoint", "Histogram", "Telemetry"]
