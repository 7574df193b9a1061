"""Start a deployment's run through the Prefect API (what ``POST
/api/deployments/{name}/run`` does). Prefect's own settings carry the server's auth
(``PREFECT_API_AUTH_STRING``), so the run is made with whatever credentials the process
was given; this module never handles them."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException


def start_run(api_url: str, name: str, *, parameters: dict[str, Any], by: str) -> dict[str, Any]:
    """Create a run of deployment ``name`` (flow and deployment share the name) now.

    Raises ``HTTPException``: 404 when the server does not know the deployment (nothing
    serves it yet), 503 when the server cannot be reached.
    """
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            run = run_deployment(
                f"{name}/{name}", parameters=parameters or None, timeout=0, tags=[f"by:{by}"]
            )
    except ObjectNotFound:
        raise HTTPException(
            404,
            f"the Prefect server at {api_url} has no deployment {name!r} yet "
            "(quantum-trader up serves them all)",
        ) from None
    except httpx.HTTPStatusError as exc:
        raise HTTPException(
            502, f"the Prefect server at {api_url} answered {exc.response.status_code}"
        ) from None
    except (httpx.HTTPError, OSError) as exc:
        raise HTTPException(
            503, f"the Prefect server at {api_url} cannot be reached: {type(exc).__name__}"
        ) from None
    ui = api_url.removesuffix("/api")
    return {
        "deployment": name,
        "flow_run_id": str(run.id),
        "flow_run_name": run.name,
        "state": run.state.type.value if run.state else None,
        "by": by,
        "url": f"{ui}/runs/flow-run/{run.id}",
    }
