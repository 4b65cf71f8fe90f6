"""The server's first half second: answer `initialize` and publish the first document's
diagnostics while pygls and lsprotocol load.

Importing pygls and lsprotocol takes about half a second (lsprotocol's ~570 attrs classes are
generated and compiled at import), longer than an editor should wait for `initialize`. So the
front, which imports neither, reads the client from the first byte:

- it answers `initialize` itself with `capabilities.initialize_result` (exactly pygls' answer for
  the features server.py registers; tests/lsp/test_front.py holds them equal);
- it starts the validation worker at once, and in push mode sends the diagnostics of the first
  opened document as soon as the worker has them, unless the client changed or closed that
  document (or is shutting down) before they are ready;
- in pull mode it answers the first `textDocument/diagnostic` request for that document itself
  (a full report, its `resultId` named by `lsp_json.pull_result_id` as the server names its own),
  under the same conditions; that request is not relayed, so pygls never answers it. If the
  validation fails, or an edit comes first, the request goes on to pygls, in the client's order;
  a `$/cancelRequest` of it is answered with RequestCancelled, as pygls would;
- it imports pygls only when that is done, or when the client asks for anything (a request), or
  when no document is opened soon after `initialize`: on a busy machine the import (CPU-bound, in
  this process) would otherwise take the worker's CPU and delay those first diagnostics;
- every message it reads goes on to pygls, re-framed, once pygls has loaded: pygls handles them
  all as if it had read them itself, `initialize` included. pygls' own answer to that request is
  dropped (compared with the front's first: a difference is logged).

Nothing here imports lsprotocol or pygls; the worker's import happens in its own process.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from osiris_lsp.capabilities import initialize_result, pulls_diagnostics
from osiris_lsp.transport import BoundedStdin

if TYPE_CHECKING:
    from concurrent.futures import Future

    from osiris_lsp.validation import Validator
    from osiris_lsp.workspace import DocumentSnapshot, FolderContext, OmlWorkspace
    from osiris_runtime.errors import Diagnostic

log = logging.getLogger("osiris_lsp.front")

_CONTENT_LENGTH = re.compile(rb"^Content-Length: (\d+)\r\n$")
_HEADERS = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
REQUEST_CANCELLED = -32800  # the LSP error code of a request the client cancelled
# Messages after which the front's diagnostics of an opened document would be out of date.
_OUTDATING = frozenset({"textDocument/didChange", "textDocument/didClose", "shutdown", "exit"})
# pygls loads this long after `initialize` at the latest when no document was opened meanwhile, and
# this long at the latest while the first document is being validated.
WAIT_FOR_OPEN_S = 0.3
WAIT_FOR_FIRST_DIAGNOSTICS_S = 3.0


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n" % len(body) + _HEADERS + body


def read_body(stdin: BoundedStdin) -> bytes | None:
    """The next message body, read as pygls reads (the first `Content-Length` header counts,
    lines that are not headers are skipped); None at the end of the input."""
    length = 0
    while True:
        line = stdin.readline()
        if not line:
            return None
        if not length:
            match = _CONTENT_LENGTH.fullmatch(line)
            if match:
                length = int(match.group(1))
        if length and not line.strip():
            body = stdin.read(length)
            return body or None


class Relay:
    """The stdin pygls reads: the messages the front has read, re-framed, in order."""

    def __init__(self) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._current = b""
        self._offset = 0
        self._closed = False
        self._ready = threading.Condition()

    def feed(self, body: bytes) -> None:
        with self._ready:
            self._chunks.append(frame(body))
            self._ready.notify_all()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def _take(self, want_line: bool, n: int) -> bytes:
        out = bytearray()
        with self._ready:
            while True:
                if self._offset >= len(self._current):
                    if not self._chunks:
                        if self._closed:
                            return bytes(out)
                        self._ready.wait()
                        continue
                    self._current, self._offset = self._chunks.popleft(), 0
                if want_line:
                    end = self._current.find(b"\n", self._offset)
                    stop = len(self._current) if end < 0 else end + 1
                else:
                    stop = min(len(self._current), self._offset + n - len(out))
                out += self._current[self._offset:stop]
                self._offset = stop
                if (want_line and out.endswith(b"\n")) or (not want_line and len(out) >= n):
                    return bytes(out)

    def readline(self) -> bytes:
        return self._take(True, 0)

    def read(self, n: int) -> bytes:
        return self._take(False, n)


class ClientOutput:
    """The stdout the front and pygls share: one message at a time, and pygls' answer to the
    `initialize` request the front already answered is dropped."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._answered: tuple[Any, Any] | None = None  # (request id, the front's result)

    def send(self, message: dict[str, Any]) -> None:
        data = frame(json.dumps(message).encode("utf-8"))
        with self._lock:
            self._stream.write(data)
            self._stream.flush()

    def answer_initialize(self, request_id: Any, result: dict[str, Any]) -> None:
        self._answered = (request_id, result)
        self.send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def write(self, data: bytes) -> None:  # pygls' writer interface (StdoutWriter calls write, flush)
        if self._answered is not None and self._is_initialize_answer(data):
            return
        with self._lock:
            self._stream.write(data)
            self._stream.flush()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._stream.close()

    def _is_initialize_answer(self, data: bytes) -> bool:
        assert self._answered is not None
        try:
            message = json.loads(data.split(b"\r\n\r\n", 1)[1])
        except (IndexError, ValueError):
            return False
        request_id, result = self._answered
        if not isinstance(message, dict) or "method" in message or message.get("id") != request_id:
            return False
        self._answered = None
        if message.get("result") != result:
            log.warning("the early initialize answer differs from pygls': sent %s, pygls %s",
                        json.dumps(result), json.dumps(message.get("error") or message.get("result")))
        return True


class Front:
    """Reads every client message (on its own thread), relays it to pygls, and publishes (push) or
    answers the first pull of (pull) the first opened document's diagnostics before pygls can."""

    def __init__(self, stdin: BoundedStdin, out: ClientOutput, relay: Relay) -> None:
        self._stdin = stdin
        self._out = out
        self._relay = relay
        self._lock = threading.Lock()
        self._workspace: OmlWorkspace | None = None  # set when the front answered initialize in push mode
        self._validator: Validator | None = None
        self._opened = False  # the first didOpen was seen (the front looks at no other)
        self._handed_over = False  # pygls reads the relay now
        self._pending: tuple[str, int | None] | None = None  # (uri, version) the front will publish
        self._claimed: tuple[str, int | None] | None = None  # the didOpen the server leaves to the front
        self._claimed_future: "Future[list[Diagnostic]] | None" = None  # its early validation
        self._pygls_wanted = threading.Event()  # pygls should load now (see wait_until_pygls_is_wanted)
        # Pull clients: the front answers the first document's first `textDocument/diagnostic` itself.
        self._pulls = False
        self._early: tuple[str, int | None] | None = None  # (uri, version) whose first pull the front answers
        self._early_report: dict[str, Any] | None = None  # that answer, once the worker had the diagnostics
        self._held: tuple[Any, bytes] | None = None  # (request id, body) of that pull while it waits for them

    def first_message(self) -> bytes | None:
        body = read_body(self._stdin)
        if body is not None:
            self._relay.feed(body)
        return body

    def answer_initialize(self, body: bytes) -> dict[str, Any] | None:
        """If `body` is an `initialize` request: answer it, and return its params."""
        message = _loads(body)
        params = message.get("params") if message.get("method") == "initialize" and "id" in message else None
        if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
            return None  # pygls answers whatever this is
        self._out.answer_initialize(message["id"], initialize_result(params))
        return params

    def start(self, params: dict[str, Any] | None, validator: "Validator") -> None:
        """Start the reader thread (the worker runs already); watch for the first document when
        the client takes pushed diagnostics."""
        self._validator = validator
        if params is not None:
            self._pulls = pulls_diagnostics(params["capabilities"])
            self._workspace = _workspace_of(params)
        else:
            self._pygls_wanted.set()
        threading.Thread(target=self._read_all, name="osiris-front", daemon=True).start()

    def wait_until_pygls_is_wanted(self) -> None:
        """Until the first document's diagnostics are out (or will not come from the front), the
        client sent a request, or the time limits above passed."""
        if not self._pygls_wanted.wait(WAIT_FOR_OPEN_S):
            with self._lock:
                opened = self._opened
            if opened:
                self._pygls_wanted.wait(WAIT_FOR_FIRST_DIAGNOSTICS_S)

    def hand_over(self) -> None:
        """pygls is loaded: the first document it has not seen yet is its own."""
        with self._lock:
            self._handed_over = True
        log.info("pygls serves from here")

    def opened_early(self, uri: str, version: int | None, on_failure: Callable[[], None]) -> bool:
        """Asked by the server on each didOpen: True (once) for the one whose diagnostics the
        front publishes, so the worker does not validate it twice. If that early validation fails
        (now or later: the worker died), `on_failure` is called, from any thread, so the server
        validates the document itself."""
        with self._lock:
            claimed, self._claimed = self._claimed, None
            future = self._claimed_future
        if claimed != (uri, version) or future is None:
            return False
        future.add_done_callback(lambda done: on_failure() if done.cancelled() or done.exception() is not None else None)
        return True

    def _read_all(self) -> None:
        while (body := read_body(self._stdin)) is not None:
            if self._look_at(body):
                self._relay.feed(body)
        self._relay.close()
        self._pygls_wanted.set()

    def _look_at(self, body: bytes) -> bool:
        """Act on a client message; False when the front answers it itself (pygls never sees it)."""
        with self._lock:
            watching = self._pending is not None or self._early is not None or self._held is not None
            if not watching and (self._opened or self._handed_over or self._workspace is None):
                return True
        message = _loads(body)
        method = message.get("method")
        watch: Callable[[], None] | None = None
        with self._lock:
            if self._answer_pull_early(message, body):
                return False
            if "id" in message or method in ("shutdown", "exit"):
                self._pygls_wanted.set()  # the client waits for an answer
            if method in _OUTDATING and (self._pending is not None or self._early is not None):
                self._pending = self._early = None
                self._hand_held_over()  # before this message: pygls reads them in the client's order
                self._pygls_wanted.set()
            elif method == "textDocument/didOpen" and not self._opened and not self._handed_over:
                self._opened = True
                watch = self._validate_first(message.get("params"))
                if self._pending is None and self._early is None:
                    self._pygls_wanted.set()
        if watch is not None:
            watch()  # without the lock: a future done already runs its callback (_publish) at once
        return True

    def _answer_pull_early(self, message: dict[str, Any], body: bytes) -> bool:
        """(with the lock) True when `message` is the first document's first pull: the front answers
        it (now, or when the worker has the diagnostics) and does not relay it. A cancel of that pull
        is answered here too (RequestCancelled) and relayed like any other message."""
        method, params = message.get("method"), message.get("params")
        if method == "$/cancelRequest" and self._held is not None and isinstance(params, dict) and params.get("id") == self._held[0]:
            request_id, self._held, self._early = self._held[0], None, None
            # as pygls answers a cancelled request; the cancel itself goes on to pygls, which ignores it
            self._out.send({"jsonrpc": "2.0", "id": request_id,
                            "error": {"code": REQUEST_CANCELLED, "message": f'Request with id "{request_id}" is canceled'}})
            self._pygls_wanted.set()
            return False
        document = params.get("textDocument") if isinstance(params, dict) else None
        if (method != "textDocument/diagnostic" or "id" not in message or self._early is None or self._held is not None
                or not isinstance(document, dict) or document.get("uri") != self._early[0]):
            return False
        if self._early_report is None:
            self._held = (message["id"], body)  # answered by _publish
        else:
            self._out.send({"jsonrpc": "2.0", "id": message["id"], "result": self._early_report})
            self._early = self._early_report = None
            log.info("answered the first pull of %s (request %s)", document["uri"], message["id"])
        return True

    def _hand_held_over(self) -> None:
        """(with the lock) The pull the front holds is pygls' to answer after all."""
        if self._held is not None:
            self._relay.feed(self._held[1])
            self._held = None

    def _validate_first(self, params: Any) -> Callable[[], None] | None:
        """(with the lock) Send the first opened document to the worker; what starts watching for
        its diagnostics (called without the lock)."""
        document = params.get("textDocument") if isinstance(params, dict) else None
        if not isinstance(document, dict) or not isinstance(document.get("text"), str) or not isinstance(document.get("uri"), str):
            return None
        from osiris_lsp.lsp_json import diagnostic_json  # noqa: F401 - loaded now, used when the worker answers
        from osiris_lsp.workspace import DocumentSnapshot

        version = document.get("version") if isinstance(document.get("version"), int) else None
        snap = DocumentSnapshot(document["uri"], version, document["text"])
        if not (snap.is_oml or snap.is_connections_file):
            return None
        assert self._workspace is not None and self._validator is not None
        folder = self._workspace.folder_for(snap.uri)
        try:
            future = self._validator.submit_diagnostics(snap, folder)
        except Exception:  # no worker: pygls validates it when it has loaded
            log.warning("early validation unavailable", exc_info=True)
            return None
        if self._pulls:
            self._early = (snap.uri, version)
        else:
            self._pending = self._claimed = (snap.uri, version)
            self._claimed_future = future
        return lambda: future.add_done_callback(lambda done: self._publish(snap, folder, done))

    def _publish(self, snap: "DocumentSnapshot", folder: "FolderContext", done: "Future[list[Diagnostic]]") -> None:
        """The worker has the first document's diagnostics: push them, or answer (or get ready to
        answer) its first pull."""
        from osiris_lsp.lsp_json import diagnostic_json, full_report

        try:
            found = done.result()
        except Exception:
            log.warning("early validation of %s failed", snap.uri, exc_info=True)
            found = None
        items = None if found is None else [diagnostic_json(snap.lines, d, folder.settings.docs_base_url) for d in found]
        with self._lock:
            if self._pending == (snap.uri, snap.version):
                self._pending = None
                if items is not None:
                    self._out.send({"jsonrpc": "2.0", "method": "textDocument/publishDiagnostics",
                                    "params": {"uri": snap.uri, "version": snap.version, "diagnostics": items}})
            elif self._early == (snap.uri, snap.version):
                if items is None:
                    self._early = None
                    self._hand_held_over()
                elif self._held is not None:
                    self._out.send({"jsonrpc": "2.0", "id": self._held[0], "result": full_report(snap.version, items)})
                    log.info("answered the first pull of %s (request %s)", snap.uri, self._held[0])
                    self._early, self._held = None, None
                else:
                    self._early_report = full_report(snap.version, items)
        self._pygls_wanted.set()


def _loads(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _workspace_of(params: dict[str, Any]) -> "OmlWorkspace":
    """The folders and settings of an `initialize` request, as the server's initialize handler
    sets them (before `workspace/configuration` answers)."""
    from osiris_lsp.settings import ServerSettings
    from osiris_lsp.workspace import OmlWorkspace, initial_folders

    root_uri = params.get("rootUri") if isinstance(params.get("rootUri"), str) else None
    if root_uri is None and isinstance(params.get("rootPath"), str):
        from pygls.uris import from_fs_path  # pygls.uris alone: no lsprotocol

        root_uri = from_fs_path(params["rootPath"])
    folders = params.get("workspaceFolders")
    uris = [f["uri"] for f in folders if isinstance(f, dict) and isinstance(f.get("uri"), str)] if isinstance(folders, list) else []
    return OmlWorkspace(ServerSettings().merged(params.get("initializationOptions")), initial_folders(uris, root_uri))


def serve() -> None:
    """Run the server on stdio until the client exits: the front first, then pygls."""
    # OSIRIS_LSP_LOG_LEVEL (INFO, DEBUG): what goes to stderr, which editors show as the server's log
    level = getattr(logging, os.environ.get("OSIRIS_LSP_LOG_LEVEL", "").upper(), None)
    logging.basicConfig(level=level if isinstance(level, int) else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # The front's reader thread must get the GIL during the imports below (and, later, the event
    # loop between validation's result handling): switch often.
    sys.setswitchinterval(0.001)
    from osiris_lsp.validation import Validator

    # The worker first, while this process has no other thread (forked, it needs no interpreter
    # start of its own): its imports run while the client's `initialize` is read and answered.
    validator = Validator(fork_first=True)
    validator.start()
    out, relay = ClientOutput(sys.stdout.buffer), Relay()
    # Its own reader of fd 0, not sys.stdin's: the reader thread may be blocked in it when the
    # interpreter exits, and sys.stdin's buffer lock would then abort the exit.
    stdin = open(sys.stdin.fileno(), "rb", closefd=False)  # noqa: SIM115 - lives as long as the process
    front = Front(BoundedStdin(stdin), out, relay)
    first = front.first_message()
    if first is None:
        validator.shutdown()
        return  # no client
    params = front.answer_initialize(first)
    front.start(params, validator)
    front.wait_until_pygls_is_wanted()

    from osiris_lsp.attrs_cache import compiled_attrs_methods

    with compiled_attrs_methods():  # lsprotocol's ~570 attrs classes: their methods compiled once, cached
        from osiris_lsp import server  # the slow import

    pygls_server = server.build_server(validator, opened_early=front.opened_early)
    front.hand_over()
    server.serve(pygls_server, stdin=relay, stdout=out)
