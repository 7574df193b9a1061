"""Packages that import their parts on first use.

A package's ``__init__`` names what it offers (under ``TYPE_CHECKING``, for readers and
mypy) and hands :func:`lazy_exports` its modules, lightest first. Importing the package,
e.g. for its config, then loads none of its heavy parts (pandas, numpy, Redis clients);
``from components.market import SyntheticMarket`` imports the module that defines it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import Any


def lazy_exports(package: str, modules: Sequence[str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: a name comes from the first of
    ``modules`` that has it (imported then, and kept), or is a module of the package.

    Example (in ``components/risk/__init__.py``):
    ``__getattr__ = lazy_exports(__name__, ("decision", "guard", "emergency"))``.
    """

    def __getattr__(name: str) -> Any:
        for module in modules:
            namespace = vars(importlib.import_module(f"{package}.{module}"))
            if name in namespace:
                value = namespace[name]
                setattr(sys.modules[package], name, value)
                return value
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}"):
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
