"""Close and error codes: each one documented in docs/protocol.md, each close code one a
peer may send, and the reconnect advice in the code matching the documented one."""

from __future__ import annotations

import re

from switchboard.protocol.codes import RECONNECT_CODES, CloseCode, ErrorCode

from ..conftest import ROOT

PROTOCOL_DOC = (ROOT / "docs" / "protocol.md").read_text()


def close_code_table() -> dict[int, str]:
    """code -> the "reconnect?" column of the close code table."""
    rows = re.findall(r"^\| (\d{4}) \| [^|]+ \| ([^|]+) \|$", PROTOCOL_DOC, re.MULTILINE)
    return {int(code): advice.strip() for code, advice in rows}


def error_code_table() -> set[str]:
    return set(re.findall(r"^\| `([A-Z_]+)` \|", PROTOCOL_DOC, re.MULTILINE))


def test_every_close_code_is_documented_and_every_documented_one_exists() -> None:
    assert set(close_code_table()) == {int(code) for code in CloseCode}


def test_every_error_code_is_documented_and_every_documented_one_exists() -> None:
    assert error_code_table() == {code.value for code in ErrorCode}


def test_every_close_code_is_one_a_close_frame_may_carry() -> None:
    # RFC 6455 7.4: 1004-1006 and 1015 are reserved and never sent; 1000-2999 belong to the
    # RFC and IANA; 3000-3999 to libraries and frameworks; 4000-4999 to applications.
    for code in CloseCode:
        assert 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999, code


def test_reconnect_codes_match_the_documented_advice() -> None:
    for code, advice in close_code_table().items():
        if advice.startswith("no"):
            assert code not in RECONNECT_CODES, code
        elif advice.startswith("yes") and "fresh token" not in advice:
            # A fresh token is a change in what the client sends: terminal by the module's
            # own definition, although the client may come back with one.
            assert code in RECONNECT_CODES, code
    assert CloseCode.NORMAL not in RECONNECT_CODES
    assert CloseCode.INVALID_TOKEN not in RECONNECT_CODES
