"""Tasks that read and patch the PolicyStore."""

from __future__ import annotations

from typing import Any

from components.policy import GlobalPolicy
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@io_task("read_policy")
def read_policy(settings: Settings) -> GlobalPolicy:
    return runtime(settings).store.get()


@io_task("patch_policy")
def patch_policy(
    settings: Settings,
    changes: dict[str, Any],
    *,
    by: str,
    reason: str,
    expected_version: int | None = None,
) -> GlobalPolicy:
    """Patch the policy (one atomic write with its history entry and ``policy.updated``);
    with ``expected_version``, only if nobody wrote since (else PolicyConflictError)."""
    return runtime(settings).store.patch(
        changes, by=by, reason=reason, expected_version=expected_version
    )
