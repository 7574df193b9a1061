"""Where :class:`~components.evolution.store.EvolutionStore` keeps candidates, and the one
question about them that needs neither pandas nor numpy: is a name stored?

    is_stored_candidate(client, "qt", "momentum_1f7d29b1")  # -> True once a run kept it

A command asks this before it loads the strategies, so an unknown name is refused at once.
"""

from __future__ import annotations

import re
from typing import Any

from components.redis import namespaced

GENOME_ID = re.compile(r"^[0-9a-f]{16}$")
"""A genome's id (16 hex digits): the other key a candidate is found by."""


def candidates_key(namespace: str) -> str:
    """Hash: candidate name -> JSON candidate."""
    return namespaced(namespace, "evolution", "candidates")


def candidate_ids_key(namespace: str) -> str:
    """Hash: genome id -> candidate name."""
    return namespaced(namespace, "evolution", "candidates", "ids")


def is_stored_candidate(client: Any, namespace: str, key: str) -> bool:
    """Whether ``key`` (a candidate name or a genome id) names a stored candidate."""
    if GENOME_ID.match(key) and client.hexists(candidate_ids_key(namespace), key):
        return True
    return bool(client.hexists(candidates_key(namespace), key))
