"""A FAKE OpenAI-compatible chat endpoint for tests: loopback HTTP that answers from a script.

`POST /v1/chat/completions` pops the next `Reply` of the script and answers it either as one
JSON `chat.completion` or, when the request says `"stream": true`, as server-sent events
(`chat.completion.chunk` deltas a few characters each, then `data: [DONE]`), the wire shapes the
official SDK parses. `GET /v1/models` lists the one model.

Test controls: `requests` records every call (path, headers, parsed body); a `Reply` can carry an
HTTP status (401 to refuse the key, 404 for an unknown model, 500) or a delay (to provoke a
client timeout, or to cancel a request in flight); `abandoned` lists the requests whose client hung
up during the delay (a cancelled request must close its connection, not be left waiting). `api_key`: calls with another bearer token get 401. When the script runs out the
server answers 500, so a test that asks too often fails loudly.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-oml-writer"


@dataclass(frozen=True)
class Reply:
    content: str = ""
    status: int = 200
    delay_s: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body.get("messages", []))


@dataclass
class FakeChatServer:
    script: list[Reply] = field(default_factory=list)
    api_key: str | None = None
    requests: list[Recorded] = field(default_factory=list)
    abandoned: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeChatServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add(self, *replies: Reply | str) -> None:
        with self._lock:
            self.script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else Reply(status=500, content="script exhausted")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]})
                else:
                    self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(recorded)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "unknown route", "type": "invalid_request_error"}})
                    return
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                               "code": "invalid_api_key"}})
                    return
                reply = server._next()
                if reply.delay_s and self._client_left_within(reply.delay_s):
                    with server._lock:
                        server.abandoned.append(recorded)
                    self.close_connection = True
                    return
                if reply.status != 200:
                    self._json(reply.status, {"error": {"message": reply.content or "error", "type": "server_error"}})
                    return
                if body.get("stream"):
                    self._stream(reply.content)
                else:
                    self._json(200, {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", MODEL),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.content}}],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    })

            def _client_left_within(self, seconds: float) -> bool:
                """Wait `seconds`; True as soon as the client closes the connection."""
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], left)
                    if readable:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                return True
                        except OSError:
                            return True
                        time.sleep(left)  # data, not a hang-up: just wait out the delay
                        return False
                return False

            def _stream(self, content: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [content[i:i + 7] for i in range(0, len(content), 7)] or [""]
                first = True
                for piece in pieces:
                    delta: dict[str, Any] = {"content": piece}
                    if first:
                        delta["role"] = "assistant"
                        first = False
                    self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                self._event({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


if __name__ == "__main__":  # a manual endpoint: answers "hello" forever
    fake = FakeChatServer().start()
    print(fake.base_url, flush=True)
    try:
        while True:
            fake.add("hello")
            time.sleep(1)
    except KeyboardInterrupt:
        fake.stop()
