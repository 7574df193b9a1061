"""The settings of the EventBus (``settings.bus``; ``QT_BUS__*``, flat ``QT_BUS_*`` and
``QT_STREAM_MAXLEN``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from components.config import ComponentConfig, Flat


class BusConfig(ComponentConfig):
    """Retention and delivery of the event streams."""

    stream_maxlen: Annotated[int, Flat("QT_STREAM_MAXLEN")] = Field(
        100_000, ge=100, le=100_000_000, description="Approximate entries kept per stream."
    )
    max_retries: int = Field(
        3, ge=0, le=100, description="Retries after a handler's first failure, then dead-letter."
    )
    retry_backoff_ms: int = Field(100, ge=0, le=600_000)
    claim_idle_ms: int = Field(
        30_000, ge=1, le=86_400_000, description="Reclaim a consumer's entry idle this long."
    )
    block_ms: int = Field(200, ge=1, le=60_000, description="Longest wait for new events.")
    batch_size: int = Field(256, ge=1, le=10_000)
