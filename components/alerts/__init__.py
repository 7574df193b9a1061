"""Alerts: the events a person must hear about, delivered through Apprise to every URL
in ``QT_ALERT_URLS``, with a durable retry outbox in Redis.

alerter = Alerter.connect(settings, clock=SystemClock())
alerter.run(stop)
"""

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
from components.alerts.rules import ALERT_TYPES, Alert, Level, alert_for

__all__ = [
    "ALERT_TYPES",
    "GROUP",
    "Alert",
    "AlertConfig",
    "Alerter",
    "AppriseNotifier",
    "Level",
    "Notifier",
    "Outbox",
    "alert_for",
    "describe_target",
    "target_id",
]
