"""A loopback TCP proxy in front of the real PostgreSQL that loses the connection around a COMMIT.

It relays the PostgreSQL wire protocol unchanged and reads only the client's message framing
(`SSLRequest`/`GSSENCRequest`, the startup packet, then `<type byte><int32 length><body>`). When
the client sends a simple-query `COMMIT` it does what a network failure at that moment does:

- `drop="after-commit"`: the COMMIT is passed to the server, which commits; its answer is
  thrown away and both sockets are closed, so the client never learns that the commit happened.
- `drop="before-commit"`: the COMMIT is never passed on; both sockets are closed (the server
  rolls the transaction back when it sees the connection go).

Connect with `sslmode=disable` (the proxy reads plain frames). `commits_seen` counts the COMMITs
seen; `committed` is set once the server's answer to a passed-on COMMIT arrived (and was dropped).
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Literal

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


class PgDropProxy:
    def __init__(self, upstream: tuple[str, int], drop: Literal["after-commit", "before-commit"] = "after-commit"):
        self.upstream = upstream
        self.drop = drop
        self.commits_seen = 0
        self.committed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> "PgDropProxy":
        threading.Thread(target=self._accept, name="pg-drop-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        dropping = threading.Event()

        def close_both() -> None:
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

        def server_to_client() -> None:
            try:
                while chunk := server.recv(65536):
                    if dropping.is_set():  # the answer to the COMMIT: the server has committed
                        self.committed.set()
                        close_both()
                        return
                    client.sendall(chunk)
            except OSError:
                pass
            close_both()

        try:
            while True:  # the untyped packets: SSL/GSS requests (answered by one byte), then startup
                length, code = struct.unpack("!ii", _read_exactly(client, 8))
                packet = struct.pack("!ii", length, code) + _read_exactly(client, length - 8)
                server.sendall(packet)
                if code not in (SSL_REQUEST, GSSENC_REQUEST):
                    break
                client.sendall(_read_exactly(server, 1))  # 'N' (refused) with sslmode=disable servers too
            threading.Thread(target=server_to_client, daemon=True).start()
            while True:
                header = _read_exactly(client, 5)
                body = _read_exactly(client, struct.unpack("!i", header[1:])[0] - 4)
                if header[:1] == b"Q" and body.rstrip(b"\0").strip().upper().startswith(b"COMMIT"):
                    self.commits_seen += 1
                    if self.drop == "before-commit":
                        close_both()
                        return
                    dropping.set()
                server.sendall(header + body)
        except (OSError, ConnectionError, struct.error):
            close_both()


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
