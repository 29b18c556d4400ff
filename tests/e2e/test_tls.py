"""wss:// with real TLS clients: modern protocol versions only, certificate reload on SIGHUP."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import ssl
import threading
import warnings
from pathlib import Path

import pytest
import websockets

from ..conftest import ServerProcess, StartServer, recv_json, timeout
from ..security.certs import client_context, serial_of, write_certificate


def wss(port: int) -> str:
    return f"wss://127.0.0.1:{port}/ws"


async def test_wss_serves_and_refuses_old_tls(start_server: StartServer, tmp_path: Path) -> None:
    cert, key, serial = write_certificate(tmp_path, "one")
    app = await start_server(tls_cert=cert, tls_key=key)
    async with websockets.connect(wss(app.port), ssl=client_context(cert)) as ws:
        assert (await recv_json(ws))["type"] == "welcome"
        assert serial_of(ws) == serial
        tls = ws.transport.get_extra_info("ssl_object")
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = client_context(cert)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    assert await asyncio.to_thread(_speaks_old_tls, old, cert, key)  # the client can do 1.1
    with pytest.raises((ssl.SSLError, OSError)):  # but Switchboard refuses it
        async with websockets.connect(wss(app.port), ssl=old, open_timeout=timeout(5)):
            pass


def _speaks_old_tls(client: ssl.SSLContext, cert: Path, key: Path) -> bool:
    """Control: ``client`` completes a TLS 1.1 handshake with a server that allows it."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.minimum_version = ssl.TLSVersion.TLSv1
    server.set_ciphers("ALL:@SECLEVEL=0")
    server.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]

        def accept() -> None:
            conn, _ = listening.accept()
            with contextlib.suppress(OSError), server.wrap_socket(conn, server_side=True):
                pass

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            version = tls.version()
        thread.join(5)
    return version == "TLSv1.1"


async def test_reload_swaps_the_certificate_without_dropping_anyone(
    start_server: StartServer, tmp_path: Path
) -> None:
    cert, key, first = write_certificate(tmp_path, "live")
    app = await start_server(tls_cert=cert, tls_key=key)
    new_cert, new_key, second = write_certificate(tmp_path, "next")
    trust_both = client_context(cert, new_cert)
    async with websockets.connect(wss(app.port), ssl=trust_both) as early:
        await recv_json(early)
        shutil.copy(new_cert, cert)
        shutil.copy(new_key, key)
        assert app.reload_tls()
        async with websockets.connect(wss(app.port), ssl=trust_both) as late:
            await recv_json(late)
            assert serial_of(late) == second
        await early.send('{"type":"echo","data":"kept"}')  # the old session goes on
        assert (await recv_json(early))["data"] == "kept"
        assert serial_of(early) == first
    cert.write_text("not a certificate")
    assert not app.reload_tls()  # refused: the current certificate stays
    async with websockets.connect(wss(app.port), ssl=trust_both) as still:
        assert serial_of(still) == second


async def test_sighup_reloads_in_a_real_process(tmp_path: Path) -> None:
    cert, key, _ = write_certificate(tmp_path, "proc")
    new_cert, new_key, second = write_certificate(tmp_path, "proc2")
    trust = client_context(cert, new_cert)
    server = ServerProcess(["--tls-cert", str(cert), "--tls-key", str(key)], tls=trust)
    try:
        shutil.copy(new_cert, cert)
        shutil.copy(new_key, key)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for("tls_reloaded", timeout(10))
        async with websockets.connect(wss(server.port), ssl=trust) as ws:
            await asyncio.wait_for(ws.recv(), timeout(5))
            assert serial_of(ws) == second
        assert server.proc.poll() is None  # SIGHUP does not stop the server
    finally:
        server.stop()
