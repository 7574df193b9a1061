"""The settings of the alerts (``settings.alerts``; ``QT_ALERTS__URLS``, flat
``QT_ALERT_URLS``); :meth:`~components.alerts.alerter.AlertConfig.from_settings` reads them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from components.config import ComponentConfig, Flat


class AlertsConfig(ComponentConfig):
    """Where alerts go.

    >>> AlertsConfig(urls="json://127.0.0.1:9000")
    """

    urls: Annotated[SecretStr | None, Flat("QT_ALERT_URLS")] = Field(
        None,
        description="Apprise URLs (mailto://, slack://, tgram://, json://, ...) separated by "
        "spaces or commas; each alert goes to every one. Secret: never logged.",
    )
