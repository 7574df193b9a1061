"""No credential is ever a flow parameter: Prefect stores every parameter of every run in
its database and shows it in the UI, to anyone who can reach the API."""

from __future__ import annotations

import importlib
import pkgutil
import re

import flows

CREDENTIAL = re.compile(r"(?i)url|password|passwd|secret|token|api_?key|auth|credential|settings")


def test_no_flow_takes_a_credential_or_the_settings_as_a_parameter() -> None:
    from prefect import Flow

    found = {}
    for module in pkgutil.iter_modules(flows.__path__):
        loaded = importlib.import_module(f"flows.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, Flow) and value.__module__ == loaded.__name__:
                found[value.name] = value.parameters.properties
    assert "trading-engine" in found and len(found) >= 8
    offending = {
        (flow, name, str(schema))
        for flow, properties in found.items()
        for name, schema in properties.items()
        if CREDENTIAL.search(name) or CREDENTIAL.search(str(schema))
    }
    assert offending == set()
