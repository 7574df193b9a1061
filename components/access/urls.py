"""Where the HTTP API answers, for whoever points a person at it (``up``, chart links)."""

from __future__ import annotations

from components.settings import Settings


def api_base_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """``http://host:port`` a browser on this machine uses: an API listening on every
    interface (0.0.0.0, ::) is reached at 127.0.0.1.

    Example: ``api_base_url(load_settings()) + "/api/health"``.
    """
    host = host or settings.api.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.api.port}"
