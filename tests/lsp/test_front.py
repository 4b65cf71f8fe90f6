"""The front (osiris_lsp/front.py): its early `initialize` answer is pygls' answer, it passes every
message on to pygls unchanged, and the first document's diagnostics it publishes are the server's."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from osiris_lsp.capabilities import initialize_result
from osiris_lsp.front import ClientOutput, Relay, frame, read_body
from osiris_lsp.transport import BoundedStdin
from tests.lsp.test_protocol_edges import RawStdioServer

BENCH = {  # bench/lsp.py's client
    "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": False}, "workspaceFolders": True},
    "textDocument": {"synchronization": {"didSave": True},
                     "completion": {"completionItem": {"snippetSupport": True, "documentationFormat": ["markdown", "plaintext"]}},
                     "hover": {"contentFormat": ["markdown", "plaintext"]},
                     "publishDiagnostics": {"relatedInformation": True, "versionSupport": True}},
}
VSCODE = {  # pull diagnostics, prepareRename, will-save, file operations, notebooks
    "general": {"positionEncodings": ["utf-16"], "markdown": {"parser": "marked", "version": "1.1.0"}},
    "workspace": {"applyEdit": True, "workspaceFolders": True, "configuration": True,
                  "didChangeWatchedFiles": {"dynamicRegistration": True, "relativePatternSupport": True},
                  "fileOperations": {"dynamicRegistration": True, "didCreate": True, "didRename": True, "didDelete": True,
                                     "willCreate": True, "willRename": True, "willDelete": True},
                  "diagnostics": {"refreshSupport": True}, "executeCommand": {"dynamicRegistration": True}},
    "textDocument": {"synchronization": {"dynamicRegistration": True, "willSave": True, "willSaveWaitUntil": True, "didSave": True},
                     "completion": {"completionItem": {"snippetSupport": True}, "contextSupport": True},
                     "rename": {"dynamicRegistration": True, "prepareSupport": True, "prepareSupportDefaultBehavior": 1,
                                "honorsChangeAnnotations": True},
                     "diagnostic": {"dynamicRegistration": True, "relatedDocumentSupport": False},
                     "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["", "quickfix"]}}},
                     "publishDiagnostics": {"relatedInformation": True, "versionSupport": False, "tagSupport": {"valueSet": [1, 2]}}},
    "window": {"workDoneProgress": True, "showMessage": {}, "showDocument": {"support": True}},
    "notebookDocument": {"synchronization": {"dynamicRegistration": True, "executionSummarySupport": True}},
}
NEOVIM = {  # UTF-8 first, will-save declared false, rename without prepare support
    "general": {"positionEncodings": ["utf-8", "utf-16", "utf-32"]},
    "workspace": {"workspaceFolders": True, "configuration": True, "applyEdit": True,
                  "didChangeWatchedFiles": {"dynamicRegistration": False}},
    "textDocument": {"synchronization": {"dynamicRegistration": False, "willSave": False, "willSaveWaitUntil": False, "didSave": True},
                     "rename": {"dynamicRegistration": True, "prepareSupport": False},
                     "completion": {"completionItem": {"snippetSupport": False}},
                     "publishDiagnostics": {"relatedInformation": True, "tagSupport": {"valueSet": [1, 2]}}},
    "window": {"workDoneProgress": True},
}
NEOVIM_PULL = {**NEOVIM, "textDocument": {**NEOVIM["textDocument"], "diagnostic": {"dynamicRegistration": False},
                                          "rename": {"prepareSupport": True}}}
PROFILES = {"bench": BENCH, "vscode": VSCODE, "neovim": NEOVIM, "neovim-pull": NEOVIM_PULL, "minimal": {},
            "null-sections": {"textDocument": None, "workspace": None, "general": None}}


class _Capture:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)

    def close(self) -> None:
        pass


async def _pygls_answer(params: dict) -> dict:
    """What pygls itself answers to `initialize` with these params (in-process, no worker)."""
    from osiris_lsp.server import build_server
    from osiris_lsp.validation import Validator

    validator = Validator(use_process=False)
    server = build_server(validator)
    out = _Capture()
    server.protocol.set_writer(out)
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    server.protocol.handle_message(json.loads(request, object_hook=server.protocol.structure_message))
    for _ in range(200):
        if out.data:
            break
        await asyncio.sleep(0.01)
    validator.shutdown()
    answer = json.loads(out.data[0].split(b"\r\n\r\n", 1)[1])
    assert "result" in answer, answer
    return answer["result"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_early_initialize_answer_is_what_pygls_answers(profile, tmp_path):
    params = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": PROFILES[profile],
              "workspaceFolders": [{"uri": tmp_path.as_uri(), "name": "w"}], "initializationOptions": {"docsBaseUrl": ""}}
    assert initialize_result(params) == asyncio.run(_pygls_answer(params))


def test_messages_are_read_as_pygls_reads_them_and_relayed_reframed():
    stream = (b"garbage line\r\n" + b"Content-Length: 2\r\nContent-Type: x\r\n\r\n{}"
              + b"Content-Length: 11\r\n\r\n" + b'{"a": "\xc3\xa9"}')
    stdin = BoundedStdin(io.BytesIO(stream))
    bodies = [read_body(stdin), read_body(stdin), read_body(stdin)]
    assert bodies == [b"{}", '{"a": "é"}'.encode(), None]
    relay = Relay()
    for body in bodies[:2]:
        relay.feed(body)
    relay.close()
    # pygls reads the relay as it reads stdin
    assert [read_body(relay), read_body(relay), read_body(relay)] == bodies  # type: ignore[arg-type]


def test_the_relay_waits_for_the_front_and_ends_when_it_does():
    relay = Relay()
    got: list[bytes | None] = []
    reader = threading.Thread(target=lambda: got.append(read_body(relay)))  # type: ignore[arg-type]
    reader.start()
    relay.feed(b'{"late": true}')
    reader.join(5)
    assert got == [b'{"late": true}']
    relay.close()
    assert relay.readline() == b""


def test_pygls_answer_to_the_answered_initialize_is_dropped_and_a_difference_logged(caplog):
    stream = io.BytesIO()
    out = ClientOutput(stream)
    out.answer_initialize(7, {"capabilities": {"hoverProvider": True}})
    out.write(frame(b'{"jsonrpc": "2.0", "id": 7, "result": {"capabilities": {}}}'))  # pygls' answer: dropped
    out.write(frame(b'{"jsonrpc": "2.0", "id": 7, "result": null}'))  # a later one with that id goes out
    messages = [json.loads(m) for m in _bodies(stream.getvalue())]
    assert messages == [{"jsonrpc": "2.0", "id": 7, "result": {"capabilities": {"hoverProvider": True}}},
                        {"jsonrpc": "2.0", "id": 7, "result": None}]
    assert "differs from pygls'" in caplog.text


def _bodies(data: bytes) -> list[bytes]:
    stdin = BoundedStdin(io.BytesIO(data))
    out = []
    while (body := read_body(stdin)) is not None:
        out.append(body)
    return out


OML = """oml_version: "0.1.0"
name: front
steps:
  - id: extract
    component: nosuch.extractor
    mode: read
    config: {}
"""


def _session(tmp_path: Path, capabilities: dict) -> tuple[RawStdioServer, list[dict]]:
    import subprocess

    server = RawStdioServer(stderr=subprocess.PIPE)
    server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": capabilities}})
    return server, server.receive(lambda m: m.get("id") == 1)


def test_push_client_gets_one_initialize_answer_and_the_first_documents_diagnostics(tmp_path):
    server, seen = _session(tmp_path, BENCH)
    try:
        assert seen[-1]["result"] == initialize_result({"capabilities": BENCH})
        server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        uri = (tmp_path / "a.oml.yaml").as_uri()
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                     "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": OML}}})
        first = server.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics")[-1]["params"]
        assert first["uri"] == uri and first["version"] == 1
        assert "oml.unknown-component" in {d["code"] for d in first["diagnostics"]}
        # the server goes on from there: an edit gets its own diagnostics
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                     "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": OML.replace("nosuch", "mysql")}]}})
        later = server.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["version"] == 2)
        assert "oml.unknown-component" not in {d["code"] for d in later[-1]["params"]["diagnostics"]}
        server.send({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        rest = server.receive(lambda m: m.get("id") == 2)
        answers = [m for m in seen + later + rest if m.get("id") == 1]
        assert len(answers) == 1  # pygls' own answer to the replayed initialize never went out
        server.send({"jsonrpc": "2.0", "method": "exit"})
        assert server.proc.wait(timeout=10) == 0
        assert server.proc.stderr.read().strip() == b""
    finally:
        server.kill()


def test_the_front_diagnostics_are_the_servers(tmp_path):
    """The same document, re-opened once pygls serves: its diagnostics come from the server."""
    server, _ = _session(tmp_path, BENCH)
    try:
        uri = (tmp_path / "a.oml.yaml").as_uri()
        opened = {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": OML}}
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": opened})
        early = server.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics")[-1]["params"]
        server.send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover",
                     "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}})
        server.response(2)  # pygls serves now
        server.send({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": uri}}})
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": opened})
        served = server.receive(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"]["diagnostics"])
        assert served[-1]["params"] == early
    finally:
        server.kill()


def test_a_pull_client_gets_the_answer_early_and_its_diagnostics_from_the_server(tmp_path):
    server, seen = _session(tmp_path, VSCODE)
    try:
        assert seen[-1]["result"]["capabilities"]["diagnosticProvider"]["identifier"] == "osiris"
        uri = (tmp_path / "a.oml.yaml").as_uri()
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                     "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": OML}}})
        server.send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/diagnostic", "params": {"textDocument": {"uri": uri}}})
        messages = server.receive(lambda m: m.get("id") == 2)
        assert not [m for m in messages if m.get("method") == "textDocument/publishDiagnostics"]
        assert "oml.unknown-component" in {d["code"] for d in messages[-1]["result"]["items"]}
    finally:
        server.kill()


def test_the_worker_imports_no_lsprotocol():
    import subprocess

    code = ("import sys; import osiris_lsp.worker as w; w._warm_up(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lsprotocol', 'cattrs')"
            " or m.startswith('pygls') and m not in ('pygls', 'pygls.uris')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done


class _HeldValidator:
    """A validator whose one job the test finishes by hand (the worker's place in Front)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[object, Future]] = []
        self.submitted = threading.Event()

    def submit_diagnostics(self, snap, folder):
        future: Future = Future()
        self.jobs.append((snap, future))
        self.submitted.set()
        return future


class _FrontUnderTest:
    def __init__(self, tmp_path: Path, capabilities: dict = BENCH) -> None:
        import os

        from osiris_lsp.front import Front

        read_fd, self._write_fd = os.pipe()
        self.stdout = io.BytesIO()
        self.relay = Relay()
        self.front = Front(BoundedStdin(os.fdopen(read_fd, "rb")), ClientOutput(self.stdout), self.relay)
        self.validator = _HeldValidator()
        self.uri = (tmp_path / "a.oml.yaml").as_uri()
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": capabilities}})
        params = self.front.answer_initialize(self.front.first_message())
        self.front.start(params, self.validator)  # type: ignore[arg-type]

    def send(self, message: dict) -> None:
        import os

        os.write(self._write_fd, frame(json.dumps(message).encode()))

    def open(self) -> None:
        self.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                   "params": {"textDocument": {"uri": self.uri, "languageId": "yaml", "version": 1, "text": OML}}})
        assert self.validator.submitted.wait(10)

    def relayed(self, count: int) -> list[dict]:
        """The first `count` messages pygls reads (waits for them)."""
        return [json.loads(read_body(self.relay)) for _ in range(count)]  # type: ignore[arg-type]

    def pull(self, request_id: int, uri: str | None = None) -> None:
        self.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/diagnostic",
                   "params": {"textDocument": {"uri": uri or self.uri}}})

    def answers(self) -> list[dict]:
        """The answers the front sent (initialize's left out)."""
        return [m for m in map(json.loads, _bodies(self.stdout.getvalue())) if "method" not in m and m.get("id") != 1]

    def published(self) -> list[dict]:
        return [m for m in map(json.loads, _bodies(self.stdout.getvalue())) if m.get("method") == "textDocument/publishDiagnostics"]

    def close(self) -> None:
        import os

        os.close(self._write_fd)


def test_the_first_documents_diagnostics_are_published_once_and_the_server_leaves_them_to_the_front(tmp_path):
    from osiris_runtime.errors import Diagnostic, Range

    under_test = _FrontUnderTest(tmp_path)
    try:
        under_test.open()
        assert [m["method"] for m in under_test.relayed(2)] == ["initialize", "textDocument/didOpen"]
        snap, future = under_test.validator.jobs[0]
        found = [Diagnostic("oml.unknown-component", "no such component", Range.at(4, 15, 4, 31))]
        future.set_result(found)
        from osiris_lsp.lsp_json import diagnostic_json

        [published] = under_test.published()
        assert published["params"] == {"uri": under_test.uri, "version": 1,
                                       "diagnostics": [diagnostic_json(snap.lines, found[0])]}
        failures: list[str] = []
        assert under_test.front.opened_early(under_test.uri, 1, lambda: failures.append("once"))  # not validated again
        assert not under_test.front.opened_early(under_test.uri, 1, lambda: failures.append("later"))  # a later open: the server's
        assert failures == []
    finally:
        under_test.close()


def test_diagnostics_outdated_by_an_edit_are_not_published(tmp_path):
    under_test = _FrontUnderTest(tmp_path)
    try:
        under_test.open()
        under_test.send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                         "params": {"textDocument": {"uri": under_test.uri, "version": 2}, "contentChanges": [{"text": ""}]}})
        under_test.relayed(3)  # the edit went through the front
        under_test.validator.jobs[0][1].set_result([])
        assert under_test.published() == []
    finally:
        under_test.close()


@pytest.mark.parametrize("fails", ["before the server asks", "after the server asked"])
def test_a_failed_early_validation_is_left_to_the_server(tmp_path, fails):
    """The worker died under the first document: nothing is published for it, and the server is
    told to validate it itself, whichever comes first (its didOpen or the failure)."""
    under_test = _FrontUnderTest(tmp_path)
    try:
        under_test.open()
        under_test.relayed(2)
        future = under_test.validator.jobs[0][1]
        failures: list[str] = []
        if fails == "before the server asks":
            future.set_exception(RuntimeError("worker died"))
        assert under_test.front.opened_early(under_test.uri, 1, lambda: failures.append(under_test.uri))
        assert failures == ([under_test.uri] if fails == "before the server asks" else [])
        if fails == "after the server asked":
            future.set_exception(RuntimeError("worker died"))
        assert failures == [under_test.uri]
        assert under_test.published() == []
    finally:
        under_test.close()


def _pull_session(tmp_path: Path) -> tuple[RawStdioServer, str]:
    server, _ = _session(tmp_path, VSCODE)
    uri = (tmp_path / "a.oml.yaml").as_uri()
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                 "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": OML}}})
    return server, uri


def test_the_front_answers_the_first_pull_as_the_server_would_and_the_server_goes_on_from_its_result_id(tmp_path, monkeypatch):
    monkeypatch.setenv("OSIRIS_LSP_LOG_LEVEL", "INFO")
    server, uri = _pull_session(tmp_path)
    seen: list[dict] = []
    try:
        def answer(request_id: int) -> dict:
            seen.extend(server.receive(lambda m: m.get("id") == request_id and "method" not in m))
            return seen[-1]

        def pull(request_id: int, previous: str | None = None) -> dict:
            params: dict = {"textDocument": {"uri": uri}}
            if previous is not None:
                params["previousResultId"] = previous
            server.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/diagnostic", "params": params})
            return answer(request_id)["result"]

        early = pull(2)
        assert early["kind"] == "full" and "oml.unknown-component" in {d["code"] for d in early["items"]}
        # pygls serves from here on (hover is its alone)
        server.send({"jsonrpc": "2.0", "id": 3, "method": "textDocument/hover",
                     "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}})
        answer(3)
        assert pull(4, previous=early["resultId"]) == {"kind": "unchanged", "resultId": early["resultId"]}
        assert pull(5) == {"kind": "full", "resultId": early["resultId"], "items": early["items"]}  # the server's own
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                     "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": OML.replace("nosuch", "mysql")}]}})
        edited = pull(6, previous=early["resultId"])
        assert edited["kind"] == "full" and edited["resultId"] != early["resultId"]
        assert "oml.unknown-component" not in {d["code"] for d in edited["items"]}
        server.send({"jsonrpc": "2.0", "id": 7, "method": "shutdown"})
        answer(7)
        server.send({"jsonrpc": "2.0", "method": "exit"})
        seen.extend(json.loads(body) for body in _bodies(server.proc.stdout.read()))
        answered = [m["id"] for m in seen if "method" not in m]
        assert sorted(answered) == [2, 3, 4, 5, 6, 7], answered  # one answer each: pygls never saw pull 2
        assert server.proc.wait(timeout=10) == 0
        log = server.proc.stderr.read().decode()
        assert f"answered the first pull of {uri} (request 2)" in log, log
        assert "WARNING" not in log and "ERROR" not in log, log
    finally:
        server.kill()


def test_each_pull_gets_one_answer(tmp_path):
    """The first pull, a cancel of it, and pulls of the same and another document: one answer each."""
    server, uri = _pull_session(tmp_path)
    try:
        other = (tmp_path / "b.oml.yaml").as_uri()
        server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                     "params": {"textDocument": {"uri": other, "languageId": "yaml", "version": 1, "text": OML}}})
        for request_id, target in ((2, uri), (3, uri), (4, other)):
            server.send({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/diagnostic", "params": {"textDocument": {"uri": target}}})
        server.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}})
        server.send({"jsonrpc": "2.0", "id": 5, "method": "shutdown"})
        # Requests run concurrently: `shutdown` may be answered before a pull still validating.
        answered: set[int] = set()

        def all_answered(message: dict) -> bool:
            if "method" not in message:
                answered.add(message.get("id"))
            return answered >= {2, 3, 4, 5}

        seen = server.receive(all_answered)
        answers = [m["id"] for m in seen if "method" not in m and m.get("id") != 1]
        assert sorted(answers) == [2, 3, 4, 5], seen
        first = next(m for m in seen if m.get("id") == 2)
        # answered or cancelled, whichever came first; never both
        assert "result" in first or first["error"]["code"] == -32800
    finally:
        server.kill()


def _report(snap, found) -> dict:
    from osiris_lsp.lsp_json import diagnostic_json, full_report

    return full_report(snap.version, [diagnostic_json(snap.lines, d) for d in found])


def _found():
    from osiris_runtime.errors import Diagnostic, Range

    return [Diagnostic("oml.unknown-component", "no such component", Range.at(4, 15, 4, 31))]


@pytest.mark.parametrize("when", ["the pull waits for the worker", "the worker was first"])
def test_the_first_pull_is_answered_by_the_front_and_not_relayed(tmp_path, when):
    under_test = _FrontUnderTest(tmp_path, VSCODE)
    try:
        under_test.open()
        snap, future = under_test.validator.jobs[0]
        if when == "the worker was first":
            future.set_result(_found())
        under_test.pull(2)
        under_test.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        assert [m["method"] for m in under_test.relayed(3)] == ["initialize", "textDocument/didOpen", "initialized"]
        if when == "the pull waits for the worker":
            assert under_test.answers() == []
            future.set_result(_found())
        assert under_test.answers() == [{"jsonrpc": "2.0", "id": 2, "result": _report(snap, _found())}]
        under_test.pull(3)  # the next pull is the server's
        under_test.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}})  # too late: pygls ignores it
        assert [(m.get("id"), m["method"]) for m in under_test.relayed(2)] == [(3, "textDocument/diagnostic"), (None, "$/cancelRequest")]
        assert len(under_test.answers()) == 1
        assert under_test.published() == []  # a pull client gets nothing pushed
        assert not under_test.front.opened_early(under_test.uri, 1, lambda: None)  # nothing for the server to skip
    finally:
        under_test.close()


def test_a_cancelled_first_pull_is_answered_request_cancelled(tmp_path):
    under_test = _FrontUnderTest(tmp_path, VSCODE)
    try:
        under_test.open()
        under_test.pull(2)
        under_test.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}})
        assert [m["method"] for m in under_test.relayed(3)] == ["initialize", "textDocument/didOpen", "$/cancelRequest"]
        under_test.validator.jobs[0][1].set_result(_found())
        [answer] = under_test.answers()
        assert answer["id"] == 2 and answer["error"]["code"] == -32800
    finally:
        under_test.close()


@pytest.mark.parametrize("what", ["an edit", "a failed validation", "shutdown"])
def test_the_held_first_pull_goes_to_pygls_in_the_clients_order(tmp_path, what):
    under_test = _FrontUnderTest(tmp_path, VSCODE)
    try:
        under_test.open()
        under_test.pull(2)
        future = under_test.validator.jobs[0][1]
        if what == "a failed validation":
            future.set_exception(RuntimeError("worker died"))
            expected = ["initialize", "textDocument/didOpen", "textDocument/diagnostic"]
        elif what == "an edit":
            under_test.send({"jsonrpc": "2.0", "method": "textDocument/didChange",
                             "params": {"textDocument": {"uri": under_test.uri, "version": 2}, "contentChanges": [{"text": ""}]}})
            expected = ["initialize", "textDocument/didOpen", "textDocument/diagnostic", "textDocument/didChange"]
        else:
            under_test.send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
            expected = ["initialize", "textDocument/didOpen", "textDocument/diagnostic", "shutdown"]
        relayed = under_test.relayed(len(expected))
        assert [m["method"] for m in relayed] == expected
        assert relayed[2]["id"] == 2
        if not future.done():
            future.set_result(_found())
        assert under_test.answers() == []  # pygls answers it
    finally:
        under_test.close()


def test_a_pull_of_another_document_is_pyglss(tmp_path):
    under_test = _FrontUnderTest(tmp_path, VSCODE)
    try:
        under_test.open()
        under_test.pull(2, uri=(tmp_path / "b.oml.yaml").as_uri())
        assert [m.get("id") for m in under_test.relayed(3)] == [1, None, 2]
        under_test.validator.jobs[0][1].set_result(_found())
        under_test.pull(3)  # the first document's first pull: still the front's
        under_test.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        assert [m["method"] for m in under_test.relayed(1)] == ["initialized"]
        assert [m["id"] for m in under_test.answers()] == [3]
    finally:
        under_test.close()


def test_the_result_id_names_the_items_as_the_server_structures_them():
    """The server's pull cache holds lsprotocol diagnostics; the resultId is named from the same JSON."""
    from lsprotocol.converters import get_converter

    from osiris_lsp.convert import structured_diagnostic
    from osiris_lsp.lsp_json import diagnostic_json, pull_result_id
    from osiris_runtime.errors import Diagnostic, Range

    lines = ["a: 1", "b: 😀 x"]
    items = [diagnostic_json(lines, Diagnostic("oml.legacy-key", "old", Range.at(1, 3, 1, 6), fix="rename it")),
             *[diagnostic_json(lines, d) for d in _found()]]
    assert [get_converter().unstructure(structured_diagnostic(d)) for d in items] == items
    assert pull_result_id(1, items) == pull_result_id(1, json.loads(json.dumps(items)))
    assert pull_result_id(1, items) != pull_result_id(2, items) != pull_result_id(2, items[:1])


@pytest.mark.parametrize("profile", ["bench", "vscode"])
def test_a_validation_done_at_once_is_published_or_answered(tmp_path, profile):
    """A worker that answers before the front watches its future (the callback runs at once)."""
    under_test = _FrontUnderTest(tmp_path, PROFILES[profile])
    submit = under_test.validator.submit_diagnostics

    def done_at_once(snap, folder):
        future = submit(snap, folder)
        future.set_result(_found())
        return future

    under_test.validator.submit_diagnostics = done_at_once  # type: ignore[method-assign]
    try:
        under_test.open()
        under_test.pull(2)
        under_test.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        relayed = [m["method"] for m in under_test.relayed(3)]
        snap = under_test.validator.jobs[0][0]
        if profile == "bench":
            assert relayed == ["initialize", "textDocument/didOpen", "textDocument/diagnostic"]
            assert len(under_test.published()) == 1
        else:
            assert relayed == ["initialize", "textDocument/didOpen", "initialized"]
            assert under_test.answers() == [{"jsonrpc": "2.0", "id": 2, "result": _report(snap, _found())}]
    finally:
        under_test.close()
