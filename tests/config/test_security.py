"""Security settings: keys, TLS files and origins are checked when the settings are made."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import Settings


def test_bad_payload_key_and_lonely_tls_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"payload_keys\[0\] is not a Fernet key"):
        Settings(payload_keys=["not-a-key"])
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ValueError, match="tls_cert and tls_key go together"):
        Settings(tls_cert=cert)
    with pytest.raises(ValueError, match="no such file"):
        Settings(tls_cert=cert, tls_key=tmp_path / "missing.pem")


def test_a_malformed_allowed_origin_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="not scheme://host"):
        Settings(allowed_origin=["https://app.example.com/path"])
    assert Settings(allowed_origin=["https://*.example.com"]).allowed_origin
