"""Synchronous checks: typed settings parsing, and raw JSON-RPC against the server process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from osiris_lsp.settings import ServerSettings


class RawStdioServer:
    """`python -m osiris_lsp` spoken to in raw JSON-RPC over stdio (no client library to tidy it up)."""

    def __init__(self, stderr: int = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "osiris_lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr)

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self, until) -> list[dict]:
        """Every message read up to and including the first for which `until` is true."""
        seen = []
        while True:
            length = 0
            while (line := self.proc.stdout.readline().strip()):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            seen.append(json.loads(self.proc.stdout.read(length)))
            if until(seen[-1]):
                return seen

    def response(self, msg_id: int) -> dict:
        return self.receive(lambda m: m.get("id") == msg_id and "method" not in m)[-1]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def test_settings_from_client_mappings(tmp_path):
    settings = ServerSettings().merged({"osiris": {"componentsPath": ["specs", "/abs"], "connectionsFile": "c.yaml",
                                                   "runEngine": "e2b", "secretsFile": ""}, "unrelated": 1})
    assert settings.components_path == (Path("specs"), Path("/abs"))
    assert settings.run_engine == "e2b" and settings.secrets_file is None
    resolved = settings.resolved(tmp_path)
    assert resolved.components_path == (tmp_path / "specs", Path("/abs"))
    assert resolved.connections_file == tmp_path / "c.yaml"
    assert ServerSettings().merged({"runEngine": "docker", "componentsPath": 3}) == ServerSettings()


def test_malformed_messages_fail_alone_over_raw_stdio(tmp_path):
    """Raw JSON-RPC (no client library to tidy it up): bad params and unknown methods get errors."""
    server = RawStdioServer()
    send, receive_response, proc = server.send, server.response, server.proc

    try:
        uri = (tmp_path / "raw.oml.yaml").as_uri()
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}, "rootUri": tmp_path.as_uri()}})
        capabilities = receive_response(1)["result"]["capabilities"]
        assert capabilities.get("positionEncoding", "utf-16") == "utf-16"  # what convert.py speaks
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "oml_version: '0.1.0'\n\n"}}})
        send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion", "params": {"bogus": True}})
        assert "error" in receive_response(2)
        send({"jsonrpc": "2.0", "id": 3, "method": "osiris/unknown", "params": {}})
        assert "error" in receive_response(3)
        send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"nonsense": 1}})
        send({"jsonrpc": "2.0", "id": 4, "method": "textDocument/completion", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}}})
        labels = [item["label"] for item in receive_response(4)["result"]["items"]]
        assert "name" in labels
        send({"jsonrpc": "2.0", "id": 5, "method": "shutdown"})
        receive_response(5)
        send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=10) == 0
    finally:
        server.kill()


def test_e2b_settings_from_client_mappings():
    settings = ServerSettings().merged({"osiris": {"runEngine": "e2b", "e2bTemplate": "osiris-1", "e2bTimeout": 600}})
    assert (settings.run_engine, settings.e2b_template, settings.e2b_timeout) == ("e2b", "osiris-1", 600.0)
    assert ServerSettings().merged({"e2bTemplate": "", "e2bTimeout": 0}) == ServerSettings()
    assert ServerSettings().merged({"e2bTimeout": "soon"}) == ServerSettings()


def test_cancel_of_an_answered_request_leaves_the_output_clean(tmp_path):
    """VS Code cancels requests it got answers for; nothing of that may reach the user's output panel
    (the server's stderr is shown there)."""
    server = RawStdioServer(stderr=subprocess.PIPE)
    send, receive_response, proc = server.send, server.response, server.proc

    try:
        uri = (tmp_path / "raw.oml.yaml").as_uri()
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "rootUri": tmp_path.as_uri()}})
        receive_response(1)
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "oml_version: '0.1.0'\n\n"}}})
        for n in range(2, 5):
            send({"jsonrpc": "2.0", "id": n, "method": "textDocument/completion", "params": {
                "textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}}})
            receive_response(n)
            send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": n}})
        send({"jsonrpc": "2.0", "id": 9, "method": "shutdown"})
        receive_response(9)
        send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=10) == 0
        stderr = proc.stderr.read().decode()
        assert stderr.strip() == "", stderr
    finally:
        server.kill()


def test_version_is_printed_and_sent_in_the_handshake():
    from osiris_lsp import __version__

    printed = subprocess.run([sys.executable, "-m", "osiris_lsp", "--version"], capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0 and printed.stdout.strip() == __version__
    from osiris_lsp.server import build_server

    assert build_server().version == __version__


def test_an_oversized_message_is_refused_and_the_server_keeps_serving(tmp_path):
    """`Content-Length: 99999999999` used to be a MemoryError and the end of the server."""
    server = RawStdioServer()
    send, send_raw, receive, proc = server.send, server.send_raw, server.receive, server.proc

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "rootUri": tmp_path.as_uri()}})
        receive(lambda m: m.get("id") == 1)
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send_raw(b"Content-Length: 99999999999\r\n\r\n" + b'{"jsonrpc": "2.0", "partial": "' + b"x" * 200_000 + b'"}\r\n')
        send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        messages = receive(lambda m: m.get("id") == 2)
        logs = [m["params"]["message"] for m in messages if m.get("method") == "window/logMessage"]
        assert any("refused a message of 99999999999 bytes" in text for text in logs), messages
        assert "error" not in messages[-1]
        send({"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=10) == 0
    finally:
        server.kill()
