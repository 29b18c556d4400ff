"""The error a request handler raises to answer with a specific ``error`` frame."""

from __future__ import annotations

from ..protocol.codes import ErrorCode


class RequestError(Exception):
    """This request cannot be done; the client gets ``code`` and ``message``, nothing closes."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
