"""Routes to an HTTP backend, API Gateway style: ``$connect``, ``$disconnect``, messages.

``install_backend(app)`` sends the route keys of ``settings.backend.routes`` to HTTP
endpoints as signed JSON events and acts on the answers (``docs/integration.md``).
``verify_signature`` is the check a backend runs on each request.
"""

from __future__ import annotations

from .errors import BackendRefused, BackendUnavailable
from .events import BackendEvent, ConnectAnswer
from .install import Backend, BackendHost, install_backend
from .signing import SIGNATURE_HEADER, SignatureError, sign, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "Backend",
    "BackendEvent",
    "BackendHost",
    "BackendRefused",
    "BackendUnavailable",
    "ConnectAnswer",
    "SignatureError",
    "install_backend",
    "sign",
    "verify_signature",
]
