"""Secrets kept out of every log line, whoever writes it.

Quantum Trader's own messages name a Redis URL only through
:func:`components.settings.redact_url`. This is the net under that: a filter on every log
handler of the process (Prefect's API handler included, which stores what it gets in
Prefect's database) that replaces each known secret value, in the message, its arguments
and the traceback, by ``***``. A library that prints a URL or a key in an error cannot
carry it into a log, a flow run's logs or the console.

>>> hide_secrets_in_logs(settings)   # once the settings are known; idempotent
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    from components.settings import Settings

MASK = "***"
_SHORTEST = 6  # a shorter "secret" would mask ordinary words; such a one is not a secret


class SecretFilter(logging.Filter):
    """Masks every secret it was given in the records that pass through it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def add(self, values: Iterable[str]) -> None:
        for value in values:
            for form in {value, quote(value, safe=""), unquote(value)}:
                if len(form) >= _SHORTEST and form not in self._secrets:
                    self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # a longer secret before its parts

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        scrubbed = self.scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


_FILTER = SecretFilter()


def secret_values(settings: Settings) -> list[str]:
    """The credentials in ``settings``: the Redis URL's password (and the URL, which holds
    it), the exchange's key and secret, the alert URLs (Apprise URLs carry tokens)."""
    values: list[str] = []
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
        parts = urlsplit(url)
        passwords = [
            q.split("=", 1)[1]
            for q in parts.query.replace(";", "&").split("&")
            if "=" in q and q.split("=", 1)[0].lower() in ("password", "passwd", "pass", "pwd")
        ]
        if parts.password:
            passwords.append(parts.password)
        values += [url, *passwords] if passwords else []
    for secret in (settings.exchange.api_key, settings.exchange.api_secret):
        if secret is not None:
            values.append(secret.get_secret_value())
    alerts = settings.alerts.urls
    if alerts is not None:
        values += [u for u in re.split(r"[\s,]+", alerts.get_secret_value()) if u]
    return values


# Prefect's basic-auth string (``user:password``), for the clients and the server `up` starts.
AUTH_VARIABLES = ("PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING")


def hide_secrets_in_logs(settings: Settings) -> None:
    """Mask the credentials of ``settings``, and Prefect's auth string from the
    environment, in every log handler of this process (those configured later too, when
    called again: it is idempotent and cheap)."""
    auth = [os.environ.get(name, "") for name in AUTH_VARIABLES]
    _FILTER.add(secret_values(settings) + [v for a in auth if a for v in (a, a.partition(":")[2])])
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
