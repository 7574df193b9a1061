"""Alerts: the events a person must hear about, delivered through Apprise to every URL
in ``QT_ALERT_URLS``, with a durable retry outbox in Redis.

alerter = Alerter.connect(settings, clock=SystemClock())
alerter.run(stop)
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.alerts.alerter import (
        GROUP,
        AlertConfig,
        Alerter,
        AppriseNotifier,
        Notifier,
        Outbox,
        describe_target,
        target_id,
    )
    from components.alerts.config import AlertsConfig
    from components.alerts.rules import ALERT_TYPES, Alert, Level, alert_for

__all__ = [
    "ALERT_TYPES",
    "GROUP",
    "Alert",
    "AlertConfig",
    "Alerter",
    "AlertsConfig",
    "AppriseNotifier",
    "Level",
    "Notifier",
    "Outbox",
    "alert_for",
    "describe_target",
    "target_id",
]

__getattr__ = lazy_exports(__name__, ("config", "rules", "alerter"))
