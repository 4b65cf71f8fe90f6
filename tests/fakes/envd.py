"""A FAKE e2b `envd` for tests: the sandbox daemon the e2b SDK talks to, on loopback.

The real SDK in debug mode (`E2B_DEBUG=true`, `E2B_SANDBOX_URL=<this server>`) makes no control-
plane call and sends every command and file operation here, so the code a user runs is exercised
unchanged. The server is built from the SDK's own generated Connect server stubs
(`e2b.envd.process.process_connect.ProcessASGIApplication`, JSON codec `ENVD_JSON_CODEC`) plus the
plain HTTP endpoints envd serves (`GET /health`, `GET /files`, `POST /files`), on uvicorn.

- Commands run as local subprocesses (`/bin/bash -l -c <cmd>`, as envd runs them) with a small
  "image" environment (HOME, USER, PATH, LANG, plus `image_env`) and the request's envs; nothing
  of the test process's environment leaks in, so a test sees exactly what the client sent.
- The sandbox's home `/home/user` is a temporary directory: every `/home/user` in a command line,
  cwd or env value is mapped to it on the way in, and back on the way out (stdout/stderr lines),
  so absolute paths behave as in a real sandbox. The file API maps paths the same way (relative
  paths start at the home).
- `SendSignal` kills the process group (what `CommandHandle.kill()` and `commands.kill(pid)` use).

Test controls: `commands` records every command (cmd, envs, cwd); `uploads` every file received
(sandbox path -> bytes); `downloads` every path read; `die_when(text)` makes the sandbox die (all
processes killed, the server gone) as soon as a command prints a line containing `text`;
`stop()` shuts it down. Run on its own with `python tests/fakes/envd.py` (prints its URL).
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable
from urllib.parse import parse_qs

import uvicorn
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from e2b.envd.client_shared import ENVD_JSON_CODEC
from e2b.envd.process import process_pb
from e2b.envd.process.process_connect import Process, ProcessASGIApplication
from protobuf import Oneof

SANDBOX_HOME = "/home/user"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RecordedCommand:
    cmd: str  # the shell command as the client sent it (sandbox paths)
    envs: dict[str, str]
    cwd: str | None


@dataclass
class FakeSandbox:
    """The state behind the server: the home directory, running processes, what was received."""

    home: Path
    image_env: dict[str, str] = field(default_factory=dict)
    commands: list[RecordedCommand] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    processes: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)
    die_on: str | None = None
    dead: bool = False
    on_death: Callable[[], None] | None = None

    # --- path mapping ------------------------------------------------------------------------------

    def to_local(self, text: str) -> str:
        return text.replace(SANDBOX_HOME, str(self.home))

    def to_sandbox(self, text: str) -> str:
        return text.replace(str(self.home), SANDBOX_HOME)

    def local_path(self, sandbox_path: str) -> Path:
        path = sandbox_path if sandbox_path.startswith("/") else f"{SANDBOX_HOME}/{sandbox_path}"
        return Path(self.to_local(path))

    def die(self) -> None:
        """The sandbox goes away: every process is killed and the server stops answering."""
        self.dead = True
        for proc in list(self.processes.values()):
            _kill_group(proc.pid)
        if self.on_death is not None:
            self.on_death()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _event(**oneof: Any) -> process_pb.StartResponse:
    (name, value), = oneof.items()
    return process_pb.StartResponse(event=process_pb.ProcessEvent(event=Oneof(name, value)))


class FakeProcessService(Process):
    """`process.Process`: Start (streaming) and SendSignal; the rest answer UNIMPLEMENTED."""

    def __init__(self, sandbox: FakeSandbox) -> None:
        self.sandbox = sandbox

    async def start(self, request: process_pb.StartRequest, ctx: Any) -> AsyncIterator[process_pb.StartResponse]:
        box = self.sandbox
        config = request.process
        assert config is not None
        shell_cmd = config.args[-1] if config.args else ""
        box.commands.append(RecordedCommand(shell_cmd, dict(config.envs), config.cwd if config.has_field("cwd") else None))
        env = {"HOME": str(box.home), "USER": "user", "PATH": IMAGE_PATH, "LANG": "C.UTF-8", **box.image_env}
        env.update({k: box.to_local(v) for k, v in config.envs.items()})
        cwd = box.to_local(config.cwd) if config.has_field("cwd") and config.cwd else str(box.home)
        if not Path(cwd).is_dir():
            raise ConnectError(Code.INVALID_ARGUMENT, f"cwd '{config.cwd}' does not exist")
        proc = await asyncio.create_subprocess_exec(
            config.cmd, *[box.to_local(a) for a in config.args], cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=2**24)
        box.processes[proc.pid] = proc
        yield _event(start=process_pb.ProcessEvent.StartEvent(pid=proc.pid))
        queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()

        async def pump(stream: asyncio.StreamReader, name: str) -> None:
            while line := await stream.readline():
                await queue.put((name, line))
            await queue.put(None)

        pumps = [asyncio.create_task(pump(proc.stdout, "stdout")), asyncio.create_task(pump(proc.stderr, "stderr"))]
        open_streams = 2
        try:
            while open_streams:
                item = await queue.get()
                if item is None:
                    open_streams -= 1
                    continue
                name, raw = item
                text = box.to_sandbox(raw.decode("utf-8", errors="replace"))
                yield _event(data=process_pb.ProcessEvent.DataEvent(output=Oneof(name, text.encode())))
                if box.die_on is not None and box.die_on in text:
                    box.die()
                    raise ConnectError(Code.UNAVAILABLE, "sandbox died")
            code = await proc.wait()
        finally:
            for task in pumps:
                task.cancel()
            box.processes.pop(proc.pid, None)
        if box.dead:
            raise ConnectError(Code.UNAVAILABLE, "sandbox died")
        exit_code = code if code >= 0 else 128 - code
        status = f"exit status {exit_code}" if code >= 0 else f"signal: {signal.Signals(-code).name.lower()}"
        yield _event(end=process_pb.ProcessEvent.EndEvent(exit_code=exit_code, exited=code >= 0, status=status))

    async def send_signal(self, request: process_pb.SendSignalRequest, ctx: Any) -> process_pb.SendSignalResponse:
        selector = request.process
        pid = selector.selector.value if selector is not None and selector.selector is not None else None
        if pid not in self.sandbox.processes:
            raise ConnectError(Code.NOT_FOUND, f"process with pid {pid} not found")
        _kill_group(int(pid))
        return process_pb.SendSignalResponse()


class FakeEnvd:
    """The ASGI app: Connect `process.Process` plus envd's plain HTTP file API."""

    def __init__(self, sandbox: FakeSandbox) -> None:
        self.sandbox = sandbox
        self.process_app = ProcessASGIApplication(FakeProcessService(sandbox), codecs=[ENVD_JSON_CODEC])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self.sandbox.dead:
            await _respond(send, 502, b'{"code": 502, "message": "sandbox is not running"}')
            return
        path = scope["path"]
        if path.startswith(self.process_app.path + "/"):
            await self.process_app(scope, receive, send)
        elif path == "/health":
            await _respond(send, 204, b"")
        elif path == "/files" and scope["method"] == "GET":
            await self._read(scope, send)
        elif path == "/files" and scope["method"] == "POST":
            await self._write(scope, receive, send)
        else:
            await _respond(send, 404, b'{"code": 404, "message": "not found"}')

    async def _read(self, scope: dict[str, Any], send: Any) -> None:
        query = parse_qs(scope["query_string"].decode())
        wanted = query.get("path", [""])[0]
        self.sandbox.downloads.append(wanted)
        target = self.sandbox.local_path(wanted)
        if not target.is_file():
            body = json.dumps({"code": 404, "message": f"path '{wanted}' does not exist"}).encode()
            await _respond(send, 404, body)
            return
        await _respond(send, 200, target.read_bytes(), "application/octet-stream")

    async def _write(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = parse_qs(scope["query_string"].decode())
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + bytes(body))
            files = [(part.get_filename() or query.get("path", [""])[0], part.get_payload(decode=True) or b"")
                     for part in parsed.iter_parts()]
        else:
            files = [(query.get("path", [""])[0], bytes(body))]
        written = []
        for sandbox_path, data in files:
            target = self.sandbox.local_path(sandbox_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            absolute = self.sandbox.to_sandbox(str(target))
            self.sandbox.uploads[absolute] = data
            written.append({"name": target.name, "type": "file", "path": absolute})
        await _respond(send, 200, json.dumps(written).encode(), "application/json")


async def _respond(send: Any, status: int, body: bytes, content_type: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class EnvdServer:
    """uvicorn on 127.0.0.1:<free port> in a background thread; `url` is the `E2B_SANDBOX_URL`."""

    def __init__(self, home: Path, image_env: dict[str, str] | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.sandbox = FakeSandbox(home, dict(image_env or {}))
        self.sandbox.on_death = self._stop_soon
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(FakeEnvd(self.sandbox), log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="fake-envd")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake envd did not start")
            time.sleep(0.01)

    def die_when(self, text: str) -> None:
        self.sandbox.die_on = text

    def _stop_soon(self) -> None:
        self._server.should_exit = True

    def stop(self) -> None:
        for proc in list(self.sandbox.processes.values()):
            _kill_group(proc.pid)
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def received_bytes(self) -> list[tuple[str, bytes]]:
        """Every file uploaded and every command line (with its cwd) the sandbox received; env values
        are left out on purpose (secrets travel there, and only there)."""
        out = list(self.sandbox.uploads.items())
        out += [(f"command:{c.cmd}", f"{c.cmd}\n{c.cwd}".encode()) for c in self.sandbox.commands]
        return out


if __name__ == "__main__":
    import tempfile

    server = EnvdServer(Path(tempfile.mkdtemp(prefix="fake-envd-")) / "home")
    print(f"E2B_DEBUG=true E2B_SANDBOX_URL={server.url}  (home: {server.sandbox.home})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
