"""The server's stdin, bounded: a message cannot make the server allocate what it announces.

pygls reads `Content-Length: N` and then `read(N)`: `Content-Length: 99999999999` would be a
MemoryError and the end of the server. Here a body over `MAX_MESSAGE_BYTES` is not read; pygls
gets a small `$/osiris/refusedMessage` notification instead (the server answers it with an error
log message) and goes on reading headers: the refused body's bytes are skipped as unknown header
lines (each line read with a bound too) until the next `Content-Length`.
"""

from __future__ import annotations

import json
from typing import BinaryIO

# Far above any real message: a 2,000,000-character document, JSON-escaped, is well under it.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_HEADER_LINE = 64 * 1024
REFUSED_METHOD = "$/osiris/refusedMessage"


class BoundedStdin:
    """`readline` and `read` of a binary stream, each bounded (the interface pygls reads through)."""

    def __init__(self, stream: BinaryIO, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._stream = stream
        self._max_message = max_message

    def readline(self) -> bytes:
        line = self._stream.readline(MAX_HEADER_LINE)
        if len(line) < MAX_HEADER_LINE or line.endswith(b"\n"):
            return line
        while True:  # an over-long line: drop the rest of it, chunk by chunk
            rest = self._stream.readline(MAX_HEADER_LINE)
            if not rest or rest.endswith(b"\n"):
                return b"X-Osiris-Skipped: over-long line\r\n"

    def read(self, n: int) -> bytes:
        if n <= self._max_message:
            return self._stream.read(n)
        notice = {"jsonrpc": "2.0", "method": REFUSED_METHOD, "params": {"bytes": n, "limit": self._max_message}}
        return json.dumps(notice).encode()
