"""A small stdio LSP client for the benchmark: threads read the server, the caller times requests.

Stdlib only, so both servers are measured through the very same code path. Server-to-client
requests are answered at once (configuration from a callback, everything else `null`).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence


class LspError(RuntimeError):
    pass


@dataclass
class Notification:
    method: str
    params: Any
    received: float = field(default_factory=time.perf_counter)


class LspClient:
    def __init__(self, command: Sequence[str], cwd: Path,
                 configuration: Callable[[str | None], Any] = lambda section: None,
                 env: Mapping[str, str] | None = None):
        self.configuration = configuration
        self.configuration_requests: list[str | None] = []
        self.proc = subprocess.Popen(list(command), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=dict(env) if env is not None else None)
        self.notifications: "queue.Queue[Notification]" = queue.Queue()
        self.stderr: list[bytes] = []
        self._pending: dict[int, "queue.Queue[dict]"] = {}
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._id_lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- wire ---------------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        with self._write_lock:
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def _read_stdout(self) -> None:
        stream = self.proc.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length is None:
                continue
            self._dispatch(json.loads(stream.read(length)))

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)
            del self.stderr[:-200]

    def _dispatch(self, message: dict) -> None:
        if "method" in message and "id" in message:
            self._answer(message)
        elif "method" in message:
            self.notifications.put(Notification(message["method"], message.get("params")))
        elif message.get("id") in self._pending:
            self._pending[message["id"]].put(message)

    def _answer(self, message: dict) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            sections = [item.get("section") for item in message["params"].get("items", [])]
            self.configuration_requests.extend(sections)
            result = [self.configuration(section) for section in sections]
        self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    # -- API ----------------------------------------------------------------------------------
    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 60) -> tuple[Any, float]:
        """(result, seconds from writing the request to reading its response)."""
        with self._id_lock:
            self._next_id += 1
            request_id = self._next_id
        inbox: "queue.Queue[dict]" = queue.Queue()
        self._pending[request_id] = inbox
        started = time.perf_counter()
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        try:
            reply = inbox.get(timeout=timeout)
        except queue.Empty:
            raise LspError(f"{method}: no answer within {timeout} s") from None
        finally:
            del self._pending[request_id]
        elapsed = time.perf_counter() - started
        if "error" in reply:
            raise LspError(f"{method}: {reply['error']}")
        return reply.get("result"), elapsed

    def drain(self) -> None:
        while not self.notifications.empty():
            self.notifications.get_nowait()

    def wait_notification(self, method: str, accept: Callable[[Any], bool] = lambda p: True,
                          timeout: float = 60) -> Notification:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LspError(f"no {method} within {timeout} s")
            try:
                note = self.notifications.get(timeout=remaining)
            except queue.Empty:
                continue
            if note.method == method and accept(note.params):
                return note

    def close(self, timeout: float = 10) -> int | None:
        try:
            self.request("shutdown", None, timeout=timeout)
            self.notify("exit", None)
            self.proc.wait(timeout)
        except (LspError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode
