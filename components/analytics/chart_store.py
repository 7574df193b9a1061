"""Charts kept in Redis for a while, so a Prefect artifact can point at a URL of the API
that serves them (``GET /api/charts/<id>.png``) from any machine that shares the Redis.

Keys (under the namespace ``ns``)::

    ns:charts:<id>   the PNG, base64 text, expiring after ``keep`` (default 30 days)
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import timedelta
from typing import Any

import redis

from components.errors import DataError
from components.redis import namespaced

CHART_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")


class ChartStore:
    """Put PNG charts in Redis and read them back by id.

    >>> chart_id = ChartStore(client, namespace="qt").put(png, prefix="report")
    """

    def __init__(
        self, client: redis.Redis, *, namespace: str, keep: timedelta = timedelta(days=30)
    ) -> None:
        self._r: Any = client
        self.namespace = namespace
        self.keep = keep

    def put(self, png: bytes, *, prefix: str = "chart") -> str:
        """Store ``png``; returns its id (``<prefix>-<random>``)."""
        chart_id = f"{prefix}-{uuid.uuid4().hex[:16]}"
        if not CHART_ID.match(chart_id):
            raise DataError(f"chart prefix {prefix!r} must be lower-case letters, digits, '-'")
        self._r.set(
            namespaced(self.namespace, "charts", chart_id),
            base64.b64encode(png).decode(),
            ex=int(self.keep.total_seconds()),
        )
        return chart_id

    def get(self, chart_id: str) -> bytes | None:
        """The PNG stored as ``chart_id``, or None (unknown, expired or malformed id)."""
        if not CHART_ID.match(chart_id):
            return None
        raw = self._r.get(namespaced(self.namespace, "charts", chart_id))
        return base64.b64decode(raw) if raw else None


def chart_markdown(title: str, *, chart_url: str | None, sign_in_url: str, empty: str) -> str:
    """Markdown that shows a stored chart (Prefect's UI renders the image from the API) or,
    with no chart, says ``empty`` in words.

    >>> chart_markdown("Equity", chart_url=None, sign_in_url="http://127.0.0.1:8000/",
    ...                empty="No fills yet.")
    '### Equity\\n\\nNo fills yet.\\n'
    """
    if chart_url is None:
        return f"### {title}\n\n{empty}\n"
    return (
        f"### {title}\n\n![{title}]({chart_url})\n\n"
        f"The chart is served by the Quantum Trader API: if it does not show, sign in at "
        f"{sign_in_url} with an API token, then reload this page.\n"
    )
