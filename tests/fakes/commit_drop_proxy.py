"""A loopback TCP proxy in front of the real PostgreSQL or MariaDB that loses the connection around a COMMIT.

It relays the wire protocol unchanged and reads only the client's message framing: PostgreSQL's
`SSLRequest`/`GSSENCRequest` and startup packet, then `<type byte><int32 length><body>`; MySQL's
`<3-byte length><sequence id><payload>`. When the client sends `COMMIT` as a query (PostgreSQL's
simple query `Q`, MySQL's `COM_QUERY`; or another `statement`, such as MySQL's `RENAME TABLE`,
which commits by itself) it does what a network failure at that moment does:

- `drop="after-commit"`: the COMMIT is passed to the server, which commits; its answer is
  thrown away and both sockets are closed, so the client never learns that the commit happened.
- `drop="before-commit"`: the COMMIT is never passed on; both sockets are closed (the server
  rolls the transaction back when it sees the connection go).

Connect without TLS (`sslmode=disable`; MariaDB here has no TLS): the proxy reads plain frames.
`commits_seen` counts the statements seen; `committed` is set once the server's answer to a
passed-on one arrived (and was dropped).
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Literal

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104
COM_QUERY = 0x03


class CommitDropProxy:
    def __init__(self, upstream: tuple[str, int], protocol: Literal["postgres", "mysql"] = "postgres",
                 drop: Literal["after-commit", "before-commit"] = "after-commit", statement: bytes = b"COMMIT"):
        self.upstream = upstream
        self.statement = statement.upper()
        self.protocol = protocol
        self.drop = drop
        self.commits_seen = 0
        self.committed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def __enter__(self) -> "CommitDropProxy":
        threading.Thread(target=self._accept, name="commit-drop-proxy", daemon=True).start()
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
            if self.protocol == "postgres":
                _postgres_startup(client, server)
            threading.Thread(target=server_to_client, daemon=True).start()
            read = _postgres_message if self.protocol == "postgres" else _mysql_packet
            while True:
                message, query = read(client)
                if query is not None and query.rstrip(b"\0").strip().upper().startswith(self.statement):
                    self.commits_seen += 1
                    if self.drop == "before-commit":
                        close_both()
                        return
                    dropping.set()
                server.sendall(message)
        except (OSError, ConnectionError, struct.error):
            close_both()


def _postgres_startup(client: socket.socket, server: socket.socket) -> None:
    """The untyped packets: SSL/GSS requests (answered by one byte), then the startup message."""
    while True:
        length, code = struct.unpack("!ii", _read_exactly(client, 8))
        server.sendall(struct.pack("!ii", length, code) + _read_exactly(client, length - 8))
        if code not in (SSL_REQUEST, GSSENC_REQUEST):
            return
        client.sendall(_read_exactly(server, 1))  # 'N': no TLS, no GSS encryption


def _postgres_message(client: socket.socket) -> tuple[bytes, bytes | None]:
    """One client message, and its SQL when it is a simple query."""
    header = _read_exactly(client, 5)
    body = _read_exactly(client, struct.unpack("!i", header[1:])[0] - 4)
    return header + body, body if header[:1] == b"Q" else None


def _mysql_packet(client: socket.socket) -> tuple[bytes, bytes | None]:
    """One client packet, and its SQL when it is a COM_QUERY."""
    header = _read_exactly(client, 4)
    payload = _read_exactly(client, int.from_bytes(header[:3], "little"))
    return header + payload, payload[1:] if payload[:1] == bytes([COM_QUERY]) else None


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data
