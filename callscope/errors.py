"""Named domain errors; the API maps them to HTTP 4xx, the CLI to a message and exit code."""


class CallscopeError(Exception):
    """Base class of errors whose message is safe to show to the caller."""


class InvalidInput(CallscopeError):
    """The caller sent something Callscope cannot read (maps to 400/413/415/422)."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code


class NotFound(CallscopeError):
    """Unknown id, or an id that belongs to another tenant (both answer the same)."""


class Conflict(CallscopeError):
    """The request contradicts what is stored (an Idempotency-Key reused with another body): maps to 409."""


class AudioError(InvalidInput):
    """A recording that cannot be decoded: empty, truncated or not audio."""


class StoreUnavailable(CallscopeError):
    """A backing store (the recording object store) did not answer: retry later (maps to 503)."""
