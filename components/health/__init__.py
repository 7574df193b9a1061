"""Health: the status the health check finds, and where it is kept."""

from components.health.status import HealthRecord, HealthStatus, HealthStore

__all__ = ["HealthRecord", "HealthStatus", "HealthStore"]
