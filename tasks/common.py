"""How every Quantum Trader task is declared.

Tasks that touch Redis or an exchange retry, but only on ``TemporaryError`` (an outage
that may pass); everything else fails at once. No task caches or persists its result: a
Redis client cannot be hashed into a cache key, and a long-running flow must not keep
every result of its life in memory (DESIGN.md section 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from components.errors import TemporaryError

P = ParamSpec("P")
R = TypeVar("R")


def retry_only_temporary(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect ``retry_condition_fn``: retry when the failure was a ``TemporaryError``."""
    try:
        state.result()
    except TemporaryError:
        return True
    except Exception:
        return False
    return False


def io_task(
    name: str, *, retries: int = 3, retry_delay_seconds: float = 2
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that does I/O: retried on ``TemporaryError`` only."""
    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_condition_fn=retry_only_temporary,
        cache_policy=NO_CACHE,
        persist_result=False,
        cache_result_in_memory=False,
    )


def compute_task(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A task that only computes: never retried (the same inputs fail the same way)."""
    return task(
        name=name, cache_policy=NO_CACHE, persist_result=False, cache_result_in_memory=False
    )
