"""The examples in docs/ are real files, and they work; README.md's snippets run as written."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography.fernet import Fernet
from examples.codec_clients import echo_json, echo_msgpack, echo_proto
from examples.follow_channel import follow
from websockets.typing import Subprotocol

from switchboard import App, Connection, Envelope, Settings
from switchboard.protocol.subprotocols import CODECS

from ..conftest import (
    ROOT,
    StartServer,
    free_port,
    recv_json,
    timeout,
    wait_until,
    wait_until_healthy,
    ws_url,
)
from ..security.certs import write_certificate


def code_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)


def test_the_docs_show_the_example_files_as_they_are() -> None:
    follower = (ROOT / "examples" / "follow_channel.py").read_text()
    assert follower in code_blocks(ROOT / "docs" / "channels.md")
    chat = (ROOT / "examples" / "chat_app.py").read_text()
    shown = code_blocks(ROOT / "docs" / "app.md")[0]
    # The reference shows the example's code without its module docstring and comments.
    for line in shown.splitlines():
        code = line.split("  #")[0].rstrip()
        if code:
            assert code in chat, code


async def test_the_channel_follower_loses_nothing_across_disconnects(
    start_server: StartServer,
) -> None:
    app = await start_server()
    seen: list[int] = []
    got: list[Any] = []

    def handle(offset: int, data: Any) -> None:
        seen.append(offset)
        got.append(data)

    follower = asyncio.create_task(follow(ws_url(app), "news", handle))
    assert app.node is not None
    await wait_until(lambda: bool(app.node and app.node.channels.subscribers.get("news")))
    for round_no in range(3):
        for i in range(10):
            await app.publish("news", {"round": round_no, "i": i})
        await wait_until(lambda n=round_no * 20 + 10: len(seen) >= n)  # delivered, then away
        for conn in app.node.registry.snapshot():
            await app.disconnect(conn.id, 1012, "restart")  # the follower comes back by itself
        for i in range(10, 20):
            await app.publish("news", {"round": round_no, "i": i})  # while it is away
        expected = (round_no + 1) * 20
        await wait_until(lambda n=expected: len(seen) >= n, within=10)
    follower.cancel()
    position = await follower
    assert seen == list(range(1, 61))
    assert [d["i"] for d in got] == list(range(20)) * 3
    assert position is not None and position["offset"] == 60


def test_the_protocol_reference_shows_the_codec_clients_as_they_are() -> None:
    clients = (ROOT / "examples" / "codec_clients.py").read_text()
    assert clients in code_blocks(ROOT / "docs" / "protocol.md")


async def test_the_codec_clients_echo_in_their_codec(start_server: StartServer) -> None:
    app = await start_server()
    url = ws_url(app)
    assert await echo_json(url, {"n": [1, 2]}) == {"n": [1, 2]}
    assert await echo_msgpack(url, {"blob": b"\x00\x01"}) == {"blob": b"\x00\x01"}
    assert await echo_proto(url, b"\x00raw") == b"\x00raw"


# --- README.md, every shell and Python snippet run against real servers -------------------------
#
# Each snippet runs as written, in a directory of its own holding the files it names
# (switchboard.toml: the keys of the README's flags example; cert.pem and key.pem: a fresh
# self-signed pair). A `switchboard serve` (or a script that calls `app.run()`) is a server:
# started in the background on free loopback ports, given through the environment
# (SWITCHBOARD_HOST, _PORT, _ADMIN_PORT) or, where the snippet names a port (8080, 9000,
# 9090), by putting the free one in its place: the only change made to a snippet. The
# commands that follow run against it; at the next server or the end of the snippet it gets
# SIGTERM, and must drain and exit 0. `make` targets are dry-run (`make -n`): the tests cannot
# run `make test` from inside. A comment that shows an output (`# {"type":...}`) is compared
# with it, `...` standing for anything. Without curl, a `curl` is sent with httpx instead.

README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
#: The README's ports, and which of the test's free ports takes each one's place.
WS_PORTS, ADMIN_PORTS = ("8080", "9000"), ("9090",)


def readme_snippets(language: str | None = None) -> list[str]:
    """README.md's code blocks in ``language`` (None: the languages of every block)."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    if language is None:
        return [kind for kind, _ in blocks]
    return [text for kind, text in blocks if kind == language]


def shown_output(line: str) -> str | None:
    """The output a line's comment shows (``# {"type": ...}``), if it shows one."""
    found = re.search(r"#\s*(?:->\s*)?(\{.*\})\s*$", line)
    return found.group(1) if found else None


def assert_shown(shown: str, actual: str) -> None:
    """``actual`` is what ``shown`` says, whitespace aside and ``...`` for anything."""
    squeeze = functools.partial(re.sub, r"\s+", "")
    pattern = ".*".join(re.escape(part) for part in squeeze(shown).split("..."))
    assert re.fullmatch(pattern, squeeze(actual.strip())), f"shown {shown}, got {actual}"


def shell_commands(snippet: str) -> list[str]:
    """The commands of a shell snippet: continued lines joined, blank lines dropped."""
    return [line for line in snippet.replace("\\\n", " ").splitlines() if line.strip()]


class Snippets:
    """Runs snippets in ``cwd`` with ports of their own; stops the servers they started."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.port, self.admin_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            "SWITCHBOARD_HOST": "127.0.0.1",
            "SWITCHBOARD_PORT": str(self.port),
            "SWITCHBOARD_ADMIN_PORT": str(self.admin_port),
            "SWITCHBOARD_LOG_LEVEL": "warning",
            "JWT_SECRET": "readme-jwt-secret-0123456789abcdef",
        }
        self.servers: list[tuple[subprocess.Popen[bytes], Path]] = []

    def local(self, text: str) -> str:
        """``text`` with the README's ports replaced by this run's."""
        for ports, mine in ((WS_PORTS, self.port), (ADMIN_PORTS, self.admin_port)):
            for port in ports:
                text = re.sub(rf"\b{port}\b", str(mine), text)
        return text

    def shell(self, command: str) -> str:
        """Run one command of a shell snippet; its standard output."""
        words = shlex.split(command, comments=True)
        if words[0] == "make":
            self.bash(f"make -n {shlex.join(words[1:])}", cwd=ROOT)
            return ""
        if words[:2] == ["switchboard", "serve"] and "--help" not in words:
            tls = "--tls-cert" in words
            self.serve(["bash", "-c", self.local(command)], tls=tls)
            return ""
        if words[0] == "export":
            name = words[1].partition("=")[0]
            self.env[name] = self.bash(f'{command}\nprintf %s "${name}"')
            return ""
        if words[0] == "curl" and shutil.which("curl") is None:
            return self.curl_with_httpx(shlex.split(self.local(command), comments=True))
        return self.bash(self.local(command))

    def bash(self, script: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd or self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout(30),
        )
        assert done.returncode == 0, f"{script!r} exited {done.returncode}:\n{done.stderr}"
        return done.stdout

    def curl_with_httpx(self, words: list[str]) -> str:
        """What curl would print for ``curl [-H header]... [-d body] URL``."""
        headers, body, url = {}, None, ""
        args = iter(words[1:])
        for word in args:
            if word == "-H":
                name, _, value = next(args).partition(":")
                headers[os.path.expandvars(name)] = os.path.expandvars(value.strip())
            elif word == "-d":
                body = next(args)
            else:
                url = word
        with httpx.Client(timeout=timeout(10)) as client:
            answer = client.request("POST" if body else "GET", url, headers=headers, content=body)
        return answer.text

    def serve(self, argv: list[str], tls: bool = False) -> None:
        self.stop_servers()  # the one before, as its user would with Ctrl-C: same ports
        log = self.cwd / f"server-{len(self.servers)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: bash and the server in it
            )  # fmt: skip
        self.servers.append((proc, log))
        context = None
        if tls:
            context = ssl.create_default_context(cafile=self.cwd / "cert.pem")
        try:
            wait_until_healthy(self.port, proc, timeout(20), context)  # type: ignore[arg-type]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}") from None

    def stop_servers(self) -> None:
        """SIGTERM each server: it must drain and exit 0 (what the README promises)."""
        servers, self.servers = self.servers, []
        for proc, log in servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                code = proc.wait(timeout(20))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                raise
            assert code == 0, f"the server exited {code}:\n{log.read_text()}"


@pytest.fixture
def snippets(tmp_path: Path) -> Iterator[Snippets]:
    (tmp_path / "switchboard.toml").write_text(flags_as_toml())
    cert, key, _ = write_certificate(tmp_path, "readme")
    cert.rename(tmp_path / "cert.pem")
    key.rename(tmp_path / "key.pem")
    runner = Snippets(tmp_path)
    try:
        yield runner
    finally:
        runner.stop_servers()


def flags_as_toml() -> str:
    """The README's ``--config switchboard.toml`` file: the keys of its flags example ("same
    keys in TOML")."""
    (example,) = re.findall(r"^switchboard serve (--port .*?)(?:  #.*)?$", README.read_text(), re.M)
    words = shlex.split(example)
    pairs = zip(words[::2], words[1::2], strict=True)
    return "".join(f"{flag[2:].replace('-', '_')} = {value}\n" for flag, value in pairs)


@pytest.mark.parametrize("index", range(len(readme_snippets("sh"))))
def test_a_readme_shell_snippet_runs_as_written(snippets: Snippets, index: int) -> None:
    for command in shell_commands(readme_snippets("sh")[index]):
        output = snippets.shell(command)
        shown = shown_output(command)
        if shown is not None:
            assert_shown(snippets.local(shown), output)
        if shlex.split(command, comments=True)[0] == "curl":
            answer = json.loads(output)
            assert "error" not in answer, f"{command}\n{output}"
    snippets.stop_servers()


def test_the_readme_shows_no_other_kind_of_snippet() -> None:
    assert set(readme_snippets()) == {"sh", "python"}  # a new kind needs a runner here


def test_the_readme_client_prints_what_its_comments_show(snippets: Snippets) -> None:
    (client,) = [s for s in readme_snippets("python") if "websockets.connect" in s]
    snippets.serve(["switchboard", "serve"])
    (snippets.cwd / "client.py").write_text(snippets.local(client))
    printed = snippets.bash(f"{shlex.quote(sys.executable)} client.py").splitlines()
    shown = [shown_output(line) for line in client.splitlines() if "print(" in line]
    assert len(printed) == len(shown)
    for line, expected in zip(printed, shown, strict=True):
        assert expected is not None
        assert_shown(expected, line)
    snippets.stop_servers()


@pytest.mark.parametrize("how", ["python myapp.py", "switchboard serve myapp:app"])
async def test_the_readme_app_answers_its_route(snippets: Snippets, how: str) -> None:
    (app,) = [s for s in readme_snippets("python") if "App()" in s]
    assert how in app  # the snippet names both ways
    (snippets.cwd / "myapp.py").write_text(app)
    argv = shlex.split(how)
    snippets.serve([sys.executable, *argv[1:]] if argv[0] == "python" else argv)
    route = re.search(r'@app\.route\("([^"]+)"\)', app)
    assert route is not None
    async with websockets.connect(f"ws://127.0.0.1:{snippets.port}/ws") as ws:
        await recv_json(ws)  # welcome
        await ws.send(json.dumps({"type": route.group(1)}))
        reply = await asyncio.wait_for(ws.recv(), timeout(5))
    (shown,) = [shown_output(line) for line in app.splitlines() if shown_output(line)]
    assert shown is not None
    assert_shown(shown.removeprefix("-> "), str(reply))
    snippets.stop_servers()


def test_every_readme_python_snippet_is_run() -> None:
    runs = ("websockets.connect", "App()")
    for snippet in readme_snippets("python"):
        assert sum(marker in snippet for marker in runs) == 1, snippet


# --- what the docs say about the code ------------------------------------------------------------


def test_the_readme_gives_the_api_keys_least_length() -> None:
    (least,) = [
        rule.min_length
        for rule in Settings.model_fields["api_key"].metadata
        if getattr(rule, "min_length", None)
    ]
    assert f"at least {least} characters" in README.read_text()


async def test_the_readme_names_every_codec_the_server_speaks(start_server: StartServer) -> None:
    text = README.read_text()
    said = re.search(
        r"(\w+) codecs on one port, chosen by subprotocol: (.*?)\(\[protocol", text, re.S
    )
    assert said is not None
    named = re.findall(r"`(v\d\.\w+)`", said.group(2))
    numbers = {"three": 3, "four": 4, "five": 5}
    assert numbers[said.group(1).lower()] == len(named)
    app = await start_server(payload_keys=[Fernet.generate_key().decode()])
    for name in named:
        async with websockets.connect(ws_url(app), subprotocols=[Subprotocol(name)]) as ws:
            assert ws.subprotocol == name
    offered = {codec.name for codec in CODECS} | {"v1.fernet"}
    assert set(named) == offered


async def test_a_route_that_returns_none_acks_a_request_with_an_id(
    start_server: StartServer,
) -> None:
    reference = (ROOT / "docs" / "app.md").read_text()
    assert '`None` sends `{"type": "ack", "id": msg.id}` when the request has an `id`' in reference
    app = App()

    @app.route("quiet")
    def quiet(conn: Connection, msg: Envelope) -> None:
        return None

    await start_server(app)
    async with websockets.connect(ws_url(app)) as ws:
        await recv_json(ws)
        await ws.send(json.dumps({"type": "quiet"}))  # no id: nothing comes back
        await ws.send(json.dumps({"type": "quiet", "id": 7}))
        assert await recv_json(ws) == {"type": "ack", "id": 7}


def test_the_alert_rules_compare_with_the_limits_the_node_exports() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    rules = dict(re.findall(r"- alert: (\w+)\n(?:\s+#.*\n)*\s+expr: (.*)", operations))
    assert "switchboard_connections_max" in rules["SwitchboardNearConnectionLimit"]
    assert "switchboard_memory_limit_bytes" in rules["SwitchboardMemoryHigh"]
    assert "not export" not in operations


def test_the_security_guide_marks_what_it_says_is_planned() -> None:
    guide = (ROOT / "docs" / "security.md").read_text()
    if "planned" in guide.lower() or "planned" in README.read_text().lower():
        assert re.search(r"^\|.*\*planned\*.*\|$", guide, re.M), "nothing is marked *planned*"


async def test_the_readme_gives_the_close_code_of_a_drain(server_process: Any) -> None:
    said = re.search(r"SIGTERM or SIGINT drains: .*? close (\d{4})", README.read_text(), re.S)
    assert said is not None
    server = server_process()
    async with websockets.connect(server.url()) as ws:
        await recv_json(ws)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(ws.wait_closed(), timeout(10))
    assert ws.close_code == int(said.group(1))
    assert await asyncio.to_thread(server.proc.wait, timeout(10)) == 0
