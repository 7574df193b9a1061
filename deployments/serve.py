"""Serve every deployment of prefect.yaml from this process (one machine, no work pool).

    python -m deployments.serve

Each flow run gets its own subprocess. Stopping this process leaves the schedules as they
are (``pause_on_shutdown=False``), so the next start picks up where it left off.
"""

from __future__ import annotations

from deployments.specs import load_specs, runner_deployments


def main() -> None:
    from prefect import serve

    serve(*runner_deployments(load_specs()), pause_on_shutdown=False, print_starting_message=True)


if __name__ == "__main__":
    main()
