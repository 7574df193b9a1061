"""quantum-trader api: serve the HTTP API, and manage its tokens (the commands live with
the API, in deployments/api/cli.py)."""

from __future__ import annotations

from deployments.api.cli import api_app
from deployments.cli._app import root

root.add_typer(api_app, name="api")
