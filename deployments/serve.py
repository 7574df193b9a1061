"""Serve every deployment of prefect.yaml from this process (one machine, no work pool).

    python -m deployments.serve                  # every deployment
    python -m deployments.serve trading-engine   # only these (by their prefect.yaml name)

Deployments are named for the account (``QT_NAMESPACE``): the plain names for the default
namespace, ``<name>-<namespace>`` for the others. Each flow run gets its own subprocess.
Stopping this process leaves the schedules as they are (``pause_on_shutdown=False``), so
the next start picks up where it left off.
"""

from __future__ import annotations

import sys

from components.errors import ConfigurationError
from components.settings import load_settings
from deployments.specs import load_specs, runner_deployments


def main(argv: list[str] | None = None) -> None:
    from prefect import serve

    only = set(sys.argv[1:] if argv is None else argv)
    plain = load_specs()
    unknown = only - {spec.name for spec in plain}
    if unknown:
        raise ConfigurationError(f"prefect.yaml has no deployment {', '.join(sorted(unknown))}")
    named = load_specs(namespace=load_settings().namespace)  # the account's deployments
    specs = [spec for base, spec in zip(plain, named, strict=True) if not only or base.name in only]
    serve(*runner_deployments(specs), pause_on_shutdown=False, print_starting_message=True)


if __name__ == "__main__":
    main()
