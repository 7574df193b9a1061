"""Prefect artifacts a person would want to read: markdown notes and tables."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.common import io_task


@io_task("publish_markdown", retries=1)
def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(markdown=markdown, key=key, description=description)


@io_task("publish_table", retries=1)
def publish_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    create_table_artifact(table=rows, key=key, description=description)
