"""Self-signed certificates for the TLS tests (generated per run, never committed)."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_certificate(directory: Path, name: str) -> tuple[Path, Path, int]:
    """A certificate for localhost and 127.0.0.1 with a fresh key: (cert, key, serial)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, serial


def client_context(*trusted: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``trusted`` (self-signed) certificates."""
    context = ssl.create_default_context()
    for cert in trusted:
        context.load_verify_locations(cert)
    return context


def serial_of(ws: object) -> int:
    """The serial number of the certificate a connected ``websockets`` client was shown."""
    ssl_object = ws.transport.get_extra_info("ssl_object")  # type: ignore[attr-defined]
    der = ssl_object.getpeercert(binary_form=True)
    return int(x509.load_der_x509_certificate(der).serial_number)
