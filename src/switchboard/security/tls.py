"""TLS for ``wss://``: a server context with modern settings, reloadable without a restart.

``load_cert_chain`` on the live context swaps the certificate for every handshake that
follows; established connections keep their session. A reload that fails (a half-written
file, a key that does not match) keeps the old certificate and says so in the log.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import structlog

log = structlog.get_logger("switchboard.tls")

# TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are OpenSSL's defaults.
_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class TlsCertificates:
    """The server's SSL context and the files it was loaded from."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(_TLS12_CIPHERS)
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        context.load_cert_chain(cert, key)  # a bad pair fails startup, loudly
        self.context = context

    def reload(self) -> bool:
        """Load the files again (SIGHUP); False, keeping the old certificate, on failure."""
        try:
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            log.error("tls_reload_failed", cert=str(self.cert), error=str(exc))
            return False
        log.info("tls_reloaded", cert=str(self.cert))
        return True
