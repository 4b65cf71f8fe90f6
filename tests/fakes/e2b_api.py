"""A FAKE e2b control plane that rejects every API key: what `https://api.e2b.app` answers a wrong key.

Point the SDK at it with `E2B_API_URL` (its own setting). `requests` records (method, path, key).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RejectingControlPlane:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def _reject(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                plane.requests.append((self.command, self.path, self.headers.get("X-API-KEY")))
                body = json.dumps({"code": 401, "message": "Invalid API key, it must start with 'e2b_' prefix"}).encode()
                self.send_response(401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _reject

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
