"""The settings of the HTTP API (``settings.api``; ``QT_API__*``, flat ``QT_API_*``)."""

from __future__ import annotations

from pydantic import Field

from components.config import ComponentConfig


class ApiConfig(ComponentConfig):
    """Where ``quantum-trader api`` listens.

    >>> ApiConfig(host="127.0.0.1", port=8000)
    """

    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Where `quantum-trader api` listens; beyond loopback only with a token.",
    )
    port: int = Field(8000, ge=1, le=65_535, description="Port of the HTTP API.")
