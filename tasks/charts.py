"""Charts inside Prefect: a PNG kept in Redis (ChartStore), shown by a markdown artifact
whose image is the API's URL of it; a series with nothing to draw is said in words."""

from __future__ import annotations

import pandas as pd
from prefect.artifacts import create_markdown_artifact

from components.access import api_base_url
from components.analytics.chart_store import ChartStore, chart_markdown
from components.analytics.charts import equity_and_drawdown_figure, figure_png
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@io_task("publish_equity_chart", retries=1)
def publish_equity_chart(
    settings: Settings, equity: pd.Series, *, key: str, title: str, empty: str
) -> str | None:
    """Publish ``equity`` and its drawdown as the artifact ``key``; returns the chart's URL
    (None when the series is empty and the artifact only says ``empty``)."""
    base = api_base_url(settings)
    url = None
    if len(equity):
        png = figure_png(equity_and_drawdown_figure(equity, title=title, empty=empty))
        chart_id = ChartStore(runtime(settings).client, namespace=settings.namespace).put(
            png, prefix=key
        )
        url = f"{base}/api/charts/{chart_id}.png"
    create_markdown_artifact(
        markdown=chart_markdown(title, chart_url=url, sign_in_url=f"{base}/", empty=empty),
        key=key,
        description=title,
    )
    return url
