"""The OML language server: pygls wiring, capability negotiation, settings, scheduling.

Handlers stay thin: each takes the document snapshot and its folder context and calls a feature
function. Latency-sensitive requests (completion, hover) run inline on the event loop and never
parse or validate; validation runs on one worker thread, debounced for push diagnostics. Exactly
one diagnostics model per session: pull when the client declares `textDocument.diagnostic`,
push otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from typing import Any, Callable

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.exceptions import FeatureRequestError, JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification

from osiris_lsp.capabilities import (
    CODE_ACTION_KINDS,
    DIAGNOSTICS_IDENTIFIER,
    SERVER_NAME,
    SERVER_VERSION,
    TRIGGER_CHARACTERS,
)
from osiris_lsp.convert import runtime_position, structured_diagnostic
from osiris_lsp.features import commands, component_docs, generate
from osiris_lsp.lsp_json import pull_result_id
from osiris_lsp.settings import ServerSettings
from osiris_lsp.validation import Validator
from osiris_lsp.workspace import (
    CONNECTIONS_FILE_NAME,
    DocumentSnapshot,
    FolderContext,
    OmlWorkspace,
    initial_folders,
    uri_to_path,
)
from osiris_runtime.errors import Position

log = logging.getLogger("osiris_lsp")

# Push diagnostics wait this long after a change: enough to merge the burst of changes one
# editor action sends (paste, format, multi-cursor), short enough that a 50-step file has its
# diagnostics within 60 ms. Typing faster than validation coalesces by itself: a newer version
# cancels the queued job of an older one.
DIAGNOSTICS_DELAY_S = 0.015


class OsirisProtocol(LanguageServerProtocol):
    """pygls' protocol with five changes: UTF-16 positions always; pipeline commands and Generate get
    the full ExecuteCommandParams (work-done token) and a cancel flag that `$/cancelRequest` sets; a cancel
    of a request already answered is ignored quietly; and a
    request whose params do not parse is answered with an error instead of being dropped."""

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):  # type: ignore[override]
        # Always negotiate UTF-16 (every client must support it): `convert` speaks UTF-16 only,
        # and pygls would otherwise take the client's first preference (Neovim: UTF-8).
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            general.position_encodings = None
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):  # type: ignore[override]
        server: OsirisLanguageServer = self._server  # type: ignore[assignment]
        if params.command not in commands.COMMANDS and params.command != generate.GENERATE:
            return (yield from super().lsp_workspace__execute_command(params))
        if params.command == generate.GENERATE:
            cancel: threading.Event = AnsweredCancel()
            handler = server.execute_generate
        else:
            cancel, handler = threading.Event(), server.execute_pipeline_command
        server.cancel_flags[self.msg_id] = cancel
        try:
            return (yield handler, (params, cancel), None)
        finally:
            server.cancel_flags.pop(self.msg_id, None)

    def structure_message(self, data: Any) -> Any:
        """A request whose params do not parse gets an error response (pygls would drop it silently)."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise
            self._send_response(data["id"], error=types.ResponseError(code=exc.code, message=f"{exc.message} ({data['method']})"))
            self._server.log_message(f"rejected malformed {data['method']} request", types.MessageType.Warning)  # type: ignore[attr-defined]
            return JsonRPCNotification(method="$/osiris/rejected", jsonrpc="2.0", params=None)

    def _handle_cancel_notification(self, msg_id):  # noqa: ANN001 - pygls signature
        flag = self._server.cancel_flags.get(msg_id)  # type: ignore[attr-defined]
        if flag is not None:
            flag.set()
            if isinstance(flag, AnsweredCancel):
                return
        # Clients cancel requests that were answered a moment ago (VS Code does, on every
        # keystroke); pygls would log a warning for each into the user's output panel.
        if msg_id in self._request_futures:
            super()._handle_cancel_notification(msg_id)


class AnsweredCancel(threading.Event):
    """The cancel flag of a command that stops within moments and answers the cancel itself
    (`{ok: false, cancelled: true}`, Generate): `$/cancelRequest` sets it and leaves the request be."""


class OsirisLanguageServer(LanguageServer):
    def __init__(self, validator: Validator | None = None,
                 opened_early: Callable[[str, int | None, Callable[[], None]], bool] | None = None) -> None:
        super().__init__(SERVER_NAME, SERVER_VERSION, protocol_cls=OsirisProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.oml = OmlWorkspace()
        self.pull_diagnostics = False
        self.snippets = True
        self.cancel_flags: dict[Any, threading.Event] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        # uri -> (the inputs it was validated with, its resultId, its items)
        self._pull_cache: dict[str, tuple[tuple[Any, ...], str, list[types.Diagnostic]]] = {}
        self.validator = validator or Validator()  # the front's, already started (front.py)
        # True for the didOpen whose diagnostics the front publishes (front.py): not validated twice
        # (the front calls back if its validation fails).
        self.opened_early = opened_early

    # --- documents ---------------------------------------------------------------------------

    def snapshot(self, uri: str) -> DocumentSnapshot | None:
        """The current version of an open document (None if the client never opened it)."""
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return None
        return self.oml.snapshot(uri, doc.version, doc.source)

    def checked_snapshot(self, uri: str) -> tuple[DocumentSnapshot, FolderContext] | None:
        """An OML document or the connections file: the documents that get diagnostics."""
        snap = self.snapshot(uri)
        if snap is None or not (snap.is_oml or snap.is_connections_file):
            return None
        return snap, self.oml.folder_for(uri)

    def oml_snapshot(self, uri: str) -> tuple[DocumentSnapshot, FolderContext] | None:
        snap = self.snapshot(uri)
        if snap is None or not snap.is_oml:
            return None
        return snap, self.oml.folder_for(uri)

    def at_cursor(self, params: Any) -> tuple[DocumentSnapshot, FolderContext, Position] | None:
        """The OML document, its folder and the cursor (code points) of a text-document-position request."""
        found = self.oml_snapshot(params.text_document.uri)
        if found is None:
            return None
        snap, folder = found
        return snap, folder, runtime_position(snap.lines, params.position)

    # --- diagnostics ---------------------------------------------------------------------------

    async def validate(self, snap: DocumentSnapshot, folder: FolderContext) -> list[types.Diagnostic]:
        return await self.validator.diagnostics(snap, folder)

    def schedule_diagnostics(self, uri: str, delay: float = DIAGNOSTICS_DELAY_S) -> None:
        """Push model: (re)start the debounce timer of one document."""
        if self.pull_diagnostics:
            return
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self._pending[uri] = asyncio.ensure_future(self._publish_later(uri, delay))

    async def _publish_later(self, uri: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            found = self.checked_snapshot(uri)
            if found is None:
                self._publish(uri, None, [])
                return
            snap, folder = found
            items = await self.validate(snap, folder)
            current = self.snapshot(uri)
            if current is not None and current.version == snap.version:
                self._publish(uri, snap.version, items)
        except asyncio.CancelledError:
            pass
        except Exception:  # one document's failure must not stop the server
            self.log_error(f"diagnostics failed for {uri}")
        finally:
            if self._pending.get(uri) is asyncio.current_task():
                self._pending.pop(uri, None)

    def _publish(self, uri: str, version: int | None, items: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=items))

    async def pull(self, params: types.DocumentDiagnosticParams) -> types.DocumentDiagnosticReport:
        uri = params.text_document.uri
        found = self.checked_snapshot(uri)
        if found is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        snap, folder = found
        folder.connections()  # notice a changed connections file before looking in the cache
        inputs = (snap.version, folder.generation, id(folder))
        cached = self._pull_cache.get(uri)
        if cached is None or cached[0] != inputs:
            items_json = await self.validator.diagnostics_json(snap, folder)
            # The resultId names the items (lsp_json.pull_result_id), as the front's early answer does.
            cached = (inputs, pull_result_id(snap.version, items_json), [structured_diagnostic(d) for d in items_json])
            self._pull_cache[uri] = cached
        _, result_id, items = cached
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=result_id)

    def revalidate_all(self) -> None:
        """Something every document depends on changed (connections file, specs, settings)."""
        self._pull_cache.clear()
        if self.pull_diagnostics:
            refresh = get_capability(self.client_capabilities, "workspace.diagnostics.refresh_support", False)
            if refresh:
                self.workspace_diagnostic_refresh(None)
            return
        for uri in list(self.workspace.text_documents):
            self.schedule_diagnostics(uri, delay=0)

    # --- settings ------------------------------------------------------------------------------

    async def fetch_configuration(self) -> None:
        if not get_capability(self.client_capabilities, "workspace.configuration", False):
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="osiris")]))
        except Exception as exc:  # a client that fails the request keeps the current settings
            self.log_message(f"workspace/configuration failed: {exc}", types.MessageType.Warning)
            return
        if result and self.oml.update_settings(self.oml.settings.merged(result[0])):
            self.revalidate_all()

    # --- commands ------------------------------------------------------------------------------

    async def execute_pipeline_command(self, params: types.ExecuteCommandParams, cancel: threading.Event) -> Any:
        args = params.arguments or []
        uri = args[0] if args and isinstance(args[0], str) else None
        if uri is None:
            raise ValueError(f"{params.command} needs the document URI as its first argument")
        found = self.oml_snapshot(uri)
        if found is None:
            path = uri_to_path(uri)
            if path is None or not path.is_file():
                raise ValueError(f"{uri} is not an open OML document")
            text = path.read_text(encoding="utf-8")
            snap, folder = DocumentSnapshot(uri, None, text), self.oml.folder_for(uri)
        else:
            snap, folder = found
        loop = asyncio.get_running_loop()
        reporter = commands.Reporter(
            progress=lambda message, pct: loop.call_soon_threadsafe(self._report_progress, token, message, pct),
            log=lambda message: loop.call_soon_threadsafe(self.log_message, message, types.MessageType.Info),
            cancelled=cancel,
        )
        title = commands.TITLES[params.command]
        token = await self._begin_progress(params, cancel, f"Osiris: {title} {snap.path.name if snap.path else uri}", percentage=0)
        run = commands.RUNNERS[params.command]
        try:
            result = await loop.run_in_executor(None, run, snap, folder, reporter, *args[1:3])
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            self._end_progress(token, cancel)
        if params.command == commands.DISCOVER:
            self.revalidate_all()  # the new cache changes what every document's tables and columns are checked against
        return result

    async def execute_generate(self, params: types.ExecuteCommandParams, cancel: threading.Event) -> dict[str, Any]:
        """`osiris.generate` (features/generate.py) with progress on the request's work-done token."""
        import os

        args = params.arguments or []
        request = args[0] if args and isinstance(args[0], str) else ""
        where = uri_to_path(args[1]) if len(args) > 1 and isinstance(args[1], str) else None
        target_dir = (where if where.is_dir() else where.parent) if where is not None and where.exists() else None
        roots = self.oml.roots()
        anchor = where or target_dir or (roots[0] if roots else None)
        folder = self.oml.folder_for(anchor.as_uri()) if anchor is not None else self.oml.folder_for("")
        token = await self._begin_progress(params, cancel, generate.TITLE)
        loop = asyncio.get_running_loop()

        def report(message: str, percentage: int | None) -> None:  # progress only: the judged attempts are logged
            if token is not None:
                self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

        reporter = commands.Reporter(
            progress=lambda message, pct: loop.call_soon_threadsafe(report, message, pct),
            log=lambda message: loop.call_soon_threadsafe(self.log_message, message, types.MessageType.Info),
            cancelled=cancel,
        )
        try:
            return await loop.run_in_executor(None, generate.generate_document, request, folder, target_dir, reporter,
                                              dict(os.environ))
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            self._end_progress(token, cancel)

    async def _begin_progress(self, params: types.ExecuteCommandParams, cancel: threading.Event, title: str,
                              percentage: int | None = None) -> Any:
        """The request's work-done token (or one of ours when the client allows), begun, cancellable
        from the client's progress UI; None when there is no progress to report to."""
        token = params.work_done_token
        if token is None and get_capability(self.client_capabilities, "window.work_done_progress", False):
            token = f"osiris-{params.command}-{id(cancel)}"
            try:
                await self.work_done_progress.create_async(token)
            except Exception:
                return None
        if token is not None:
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=True, percentage=percentage))
            future = self.work_done_progress.tokens.get(token)
            if future is not None:
                future.add_done_callback(lambda f: cancel.set() if f.cancelled() else None)
        return token

    def _end_progress(self, token: Any, cancel: threading.Event) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message="cancelled" if cancel.is_set() else "done"))

    def _report_progress(self, token: Any, message: str, percentage: int | None) -> None:
        if token is not None:
            self.work_done_progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))
        self.log_message(message, types.MessageType.Info)

    # --- logging -------------------------------------------------------------------------------

    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the connection may be gone at shutdown
            log.debug("could not send log message", exc_info=True)

    def log_error(self, what: str) -> None:
        detail = traceback.format_exc(limit=8)
        log.error("%s\n%s", what, detail)
        self.log_message(f"{what}: {detail}", types.MessageType.Error)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Log for the user's output panel, no pop-up, carry on. A failed request already carries
        # its error in the response; other failures (notifications, serialisation) only have this.
        if source is FeatureRequestError:
            self.log_message(f"request failed: {error}", types.MessageType.Log)
            return
        self.log_message(f"internal error ({getattr(source, '__name__', source)}): {error!r}", types.MessageType.Error)


def build_server(validator: Validator | None = None,
                 opened_early: Callable[[str, int | None, Callable[[], None]], bool] | None = None) -> OsirisLanguageServer:
    server = OsirisLanguageServer(validator, opened_early)

    @server.feature(types.INITIALIZE)
    def initialize(ls: OsirisLanguageServer, params: types.InitializeParams) -> None:
        ls.oml.settings = ServerSettings().merged(params.initialization_options)
        ls.oml.set_folders(initial_folders([f.uri for f in params.workspace_folders or []], ls.workspace.root_uri))
        caps = params.capabilities
        # The worker process starts right after this answer goes out, while the client finishes its handshake.
        asyncio.get_running_loop().call_soon(ls.validator.start)
        ls.snippets = bool(get_capability(caps, "text_document.completion.completion_item.snippet_support", False))
        ls.pull_diagnostics = get_capability(caps, "text_document.diagnostic", None) is not None
        if ls.pull_diagnostics:
            ls.feature(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DiagnosticOptions(
                identifier=DIAGNOSTICS_IDENTIFIER, inter_file_dependencies=True, workspace_diagnostics=False))(_pull_diagnostics)

    from osiris_lsp.transport import REFUSED_METHOD

    @server.feature(REFUSED_METHOD)
    def refused_message(ls: OsirisLanguageServer, params: Any) -> None:
        """A message over the size limit was not read (see transport.py): say so, keep serving."""
        size = getattr(params, "bytes", None) or (params.get("bytes") if isinstance(params, dict) else "?")
        ls.window_log_message(types.LogMessageParams(
            type=types.MessageType.Error, message=f"osiris-lsp: refused a message of {size} bytes (over the size limit)"))

    @server.feature(types.INITIALIZED)
    async def initialized(ls: OsirisLanguageServer, params: types.InitializedParams) -> None:
        if get_capability(ls.client_capabilities, "workspace.did_change_watched_files.dynamic_registration", False):
            watchers = [types.FileSystemWatcher(glob_pattern=f"**/{CONNECTIONS_FILE_NAME}"),
                        types.FileSystemWatcher(glob_pattern="**/components/**/*.yaml")]
            try:
                await ls.client_register_capability_async(types.RegistrationParams(registrations=[types.Registration(
                    id="osiris-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))
            except Exception as exc:
                ls.log_message(f"file watching unavailable: {exc}", types.MessageType.Warning)
        await ls.fetch_configuration()
        # Now that `initialize` is answered: the feature modules and the specs, before the first
        # completion needs them (the worker process loads its own copy).
        await asyncio.get_running_loop().run_in_executor(None, _warm_up, ls)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: OsirisLanguageServer, params: None) -> None:
        for flag in list(ls.cancel_flags.values()):
            flag.set()  # running pipeline commands stop their runs
        ls.validator.shutdown()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: OsirisLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        if isinstance(params.settings, dict) and ls.oml.update_settings(ls.oml.settings.merged(params.settings)):
            ls.revalidate_all()
        await ls.fetch_configuration()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(ls: OsirisLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        removed = {uri_to_path(f.uri) for f in params.event.removed}
        added = [p for f in params.event.added if (p := uri_to_path(f.uri)) is not None]
        roots = [r for r in ls.oml.roots() if r not in removed] + added
        ls.oml.set_folders(roots)
        ls.revalidate_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: OsirisLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        paths = [p for change in params.changes if (p := uri_to_path(change.uri)) is not None]
        connections = [p for p in paths if p.name == CONNECTIONS_FILE_NAME]
        if any(ls.oml.connections_changed(p) for p in connections) or len(connections) < len(paths):
            ls.revalidate_all()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: OsirisLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        loop = asyncio.get_running_loop()
        if ls.opened_early is not None and ls.opened_early(
                document.uri, document.version, lambda: loop.call_soon_threadsafe(ls.schedule_diagnostics, document.uri, 0)):
            return
        ls.schedule_diagnostics(document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: OsirisLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule_diagnostics(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: OsirisLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        path = uri_to_path(params.text_document.uri)
        if path is not None and path.name == CONNECTIONS_FILE_NAME and ls.oml.connections_changed(path):
            ls.revalidate_all()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: OsirisLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = ls._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        ls.oml.forget(uri)
        ls._pull_cache.pop(uri, None)
        if not ls.pull_diagnostics:
            ls._publish(uri, None, [])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    def completion(ls: OsirisLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        found = ls.at_cursor(params)
        if found is None:
            return None
        snap, folder, pos = found
        from osiris_lsp.features.completion import CompletionOptions, complete

        return complete(snap.lines, pos.line, pos.column, folder, CompletionOptions(snippets=ls.snippets))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: OsirisLanguageServer, params: types.HoverParams) -> types.Hover | None:
        found = ls.at_cursor(params)
        if found is None:
            return None
        from osiris_lsp.features.hover import hover

        return hover(found[0].lines, found[2].line, found[2].column, found[1])

    # The features below need the parsed document: they run on the worker process (see validation.py).

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind(k) for k in CODE_ACTION_KINDS]))
    async def code_action(ls: OsirisLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        ours = [d for d in params.context.diagnostics if d.source == "osiris" and d.data]
        found = ls.oml_snapshot(params.text_document.uri) if ours else None
        return await ls.validator.run("code_actions", *found, ours) if found else None

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def document_symbol(ls: OsirisLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        found = ls.oml_snapshot(params.text_document.uri)
        return await ls.validator.run("symbols", *found) if found else None

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def goto_definition(ls: OsirisLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
        found = ls.at_cursor(params)
        return await ls.validator.run("definition", *found) if found else None

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(ls: OsirisLanguageServer, params: types.ReferenceParams) -> list[types.Location] | None:
        found = ls.at_cursor(params)
        return await ls.validator.run("references", *found, params.context.include_declaration) if found else None

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    async def prepare_rename(ls: OsirisLanguageServer, params: types.PrepareRenameParams):
        found = ls.at_cursor(params)
        return await ls.validator.run("prepare_rename", *found) if found else None

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    async def on_rename(ls: OsirisLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
        found = ls.at_cursor(params)
        return await ls.validator.run("rename", *found, params.new_name) if found else None

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def on_code_lens(ls: OsirisLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens] | None:
        found = ls.oml_snapshot(params.text_document.uri)
        if found is None:
            return None
        from osiris_lsp.features import code_lens

        return code_lens.code_lenses(found[0], found[1])

    @server.command(component_docs.COMPONENT_DOC)
    def show_component_doc(ls: OsirisLanguageServer, *args: Any) -> dict[str, Any]:
        """Arguments: the document URI, then an LSP position (or None) and optionally a component name."""
        uri, position, name = (list(args) + [None, None, None])[:3]
        found = ls.oml_snapshot(uri) if isinstance(uri, str) else None
        if found is None:
            return {"error": f"{uri} is not an open OML document"}
        snap, folder = found
        pos = None
        if isinstance(position, dict) and isinstance(position.get("line"), int):
            pos = runtime_position(snap.lines, types.Position(line=position["line"], character=int(position.get("character", 0))))
        return component_docs.component_doc(snap, folder, pos, name if isinstance(name, str) else None)

    # Registered for the executeCommand capability; OsirisProtocol dispatches them with full params.
    for name in commands.COMMANDS:
        server.command(name)(_unreachable_command)

    # Dispatched by OsirisProtocol with its full params (work-done token, cancel flag): execute_generate.
    server.command(generate.GENERATE)(_unreachable_command)

    return server


async def _pull_diagnostics(ls: OsirisLanguageServer, params: types.DocumentDiagnosticParams):
    return await ls.pull(params)


def _warm_up(ls: OsirisLanguageServer) -> None:
    """Import what completion, hover and code lenses need and load each folder's specs."""
    from osiris_lsp.features import code_lens, completion, hover  # noqa: F401

    for folder in ls.oml.folders():
        folder.registry.specs()


def _unreachable_command(*args: Any) -> None:  # pragma: no cover - dispatched by OsirisProtocol
    raise RuntimeError("pipeline commands are dispatched by OsirisProtocol")


def serve(server: OsirisLanguageServer | None = None, stdin: Any = None, stdout: Any = None) -> None:
    """Run the server on stdio (or the front's relay of it: front.py) until the client exits."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Validation runs on a worker thread; a short GIL switch interval lets the event loop answer
    # completion and hover in between instead of waiting up to 5 ms per switch.
    sys.setswitchinterval(0.001)
    from osiris_lsp.transport import BoundedStdin

    (server or build_server()).start_io(stdin=stdin or BoundedStdin(sys.stdin.buffer), stdout=stdout)
