"""The server's TLS context in memory (no sockets): modern versions only, reload in place."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from switchboard.security.tls import TlsCertificates

from .certs import client_context, write_certificate


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> ssl.SSLObject:
    """A TLS handshake through memory buffers; the client's side, once done."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    tls_server = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", tls_client), ("server", tls_server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return tls_client
    raise AssertionError("handshake did not finish")


def serial(side: ssl.SSLObject) -> int:
    der = side.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def test_the_loaded_certificate_is_served(tmp_path: Path) -> None:
    cert, key, number = write_certificate(tmp_path, "server")
    tls = TlsCertificates(cert, key)
    side = handshake(tls.context, client_context(cert))
    assert serial(side) == number
    assert side.version() in ("TLSv1.2", "TLSv1.3")


def test_tls_1_2_clients_get_aead_suites_only(tmp_path: Path) -> None:
    cert, key, _ = write_certificate(tmp_path, "server")
    context = TlsCertificates(cert, key).context
    modern = client_context(cert)
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    name, version, _ = handshake(context, modern).cipher() or ("", "", 0)
    assert version == "TLSv1.2" and name.startswith("ECDHE-") and "GCM" in name
    cbc_only = client_context(cert)
    cbc_only.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc_only.set_ciphers("ECDHE-ECDSA-AES128-SHA256")  # a default OpenSSL server takes it
    with pytest.raises(ssl.SSLError, match=r"NO_SHARED_CIPHER|no shared cipher|HANDSHAKE_FAILURE"):
        handshake(context, cbc_only)


def test_reload_swaps_the_certificate_and_a_broken_one_keeps_the_old(tmp_path: Path) -> None:
    cert, key, first = write_certificate(tmp_path, "server")
    tls = TlsCertificates(cert, key)
    assert serial(handshake(tls.context, client_context(cert))) == first
    _, _, second = write_certificate(tmp_path, "server")  # a renewal over the same files
    assert tls.reload()
    assert serial(handshake(tls.context, client_context(cert))) == second
    key.write_text("half-written")
    assert not tls.reload()
    assert serial(handshake(tls.context, client_context(cert))) == second


def test_a_bad_pair_fails_at_start(tmp_path: Path) -> None:
    cert, _, _ = write_certificate(tmp_path, "one")
    _, other_key, _ = write_certificate(tmp_path, "two")
    with pytest.raises(ssl.SSLError):
        TlsCertificates(cert, other_key)
