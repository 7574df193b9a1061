"""One exception tree for the whole system.

Each class says what the caller should do about it:

- ``ConfigurationError``: a person must fix a setting or an argument; retrying will not help.
- ``DataError``: input data (bars, files, payloads) is malformed; nothing downstream ran.
- ``PolicyValidationError``: a policy change is invalid or crosses a guardrail; nothing changed.
- ``PolicyConflictError``: a policy write raced another writer; re-read and decide again.
- ``TemporaryError``: an outage that may pass (Redis down, timeout); the only kind tasks retry.
"""

from __future__ import annotations


class QuantumTraderError(Exception):
    """Root of every error Quantum Trader raises on purpose."""


class ConfigurationError(QuantumTraderError):
    """A setting or argument is wrong; a person has to change it."""


class DataError(QuantumTraderError):
    """Input data is malformed; the message names what and where."""


class PolicyValidationError(QuantumTraderError):
    """A policy change is invalid or exceeds a guardrail.

    Attributes
    ----------
    field:
        Dotted path of the offending field, e.g. ``"max_risk_per_trade"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class PolicyConflictError(QuantumTraderError):
    """``expected_version`` did not match the stored policy version; nothing changed."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"policy version is {actual}, not the expected {expected}: "
            "re-read the policy and decide again"
        )
        self.expected = expected
        self.actual = actual


class TemporaryError(QuantumTraderError):
    """A failure that may pass on its own (the server is down, a timeout); safe to retry."""


class UnknownEventTypeError(DataError):
    """An event type with no registered payload model."""
