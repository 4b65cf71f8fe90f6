"""What the server offers, as plain data (no lsprotocol, no pygls).

The one place for the names and options the server registers with pygls (server.py) and for the
`initialize` answer the front (front.py) sends before pygls has loaded. `initialize_result` is
that answer as JSON: what pygls' `ServerCapabilitiesBuilder` computes for exactly the features
server.py registers (tests/lsp/test_front.py holds the two equal over several client profiles).
"""

from __future__ import annotations

from typing import Any, Mapping

from osiris_lsp import __version__

SERVER_NAME = "osiris-lsp"
SERVER_VERSION = __version__
TRIGGER_CHARACTERS = [":", " ", "@", ".", "[", ",", "-", "{"]
CODE_ACTION_KINDS = ["quickfix"]
DIAGNOSTICS_IDENTIFIER = "osiris"  # the pull-diagnostics provider (when the client pulls)
TEXT_DOCUMENT_SYNC_INCREMENTAL = 2

COMPONENT_DOC = "osiris.componentDoc"
COMPILE = "osiris.compile"
RUN = "osiris.run"
DISCOVER = "osiris.discover"  # arguments: [uri, "@family.alias"]
PREVIEW = "osiris.preview"  # arguments: [uri, step id, limit?]
PIPELINE_COMMANDS = (COMPILE, RUN, DISCOVER, PREVIEW)
GENERATE = "osiris.generate"
# In the order server.py registers them: pygls lists them in that order.
COMMANDS = (COMPONENT_DOC, *PIPELINE_COMMANDS, GENERATE)


def _get(mapping: Any, *path: str) -> Any:
    """`mapping[path[0]][path[1]]...`, None where a level is missing or not an object."""
    for key in path:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def pulls_diagnostics(client_capabilities: Mapping[str, Any]) -> bool:
    """The client declares `textDocument.diagnostic`: it pulls, and the server never pushes."""
    return _get(client_capabilities, "textDocument", "diagnostic") is not None


def initialize_result(params: Mapping[str, Any]) -> dict[str, Any]:
    """The `InitializeResult` (JSON) for these `initialize` params."""
    caps = params.get("capabilities")
    sync: dict[str, Any] = {"openClose": True, "change": TEXT_DOCUMENT_SYNC_INCREMENTAL}
    for key in ("willSave", "willSaveWaitUntil"):
        # pygls: `client_value and <feature registered>`; neither is registered here
        value = _get(caps, "textDocument", "synchronization", key)
        if value is not None:
            sync[key] = False
    sync["save"] = True
    prepare = _get(caps, "textDocument", "rename", "prepareSupport")
    server: dict[str, Any] = {
        # Always UTF-16 (see OsirisProtocol.lsp_initialize): convert.py speaks UTF-16 only.
        "positionEncoding": "utf-16",
        "textDocumentSync": sync,
        "completionProvider": {"triggerCharacters": list(TRIGGER_CHARACTERS)},
        "hoverProvider": True,
        "definitionProvider": True,
        "referencesProvider": True,
        "documentSymbolProvider": True,
        "codeActionProvider": {"codeActionKinds": list(CODE_ACTION_KINDS)},
        "codeLensProvider": {"resolveProvider": False},
        "renameProvider": {"prepareProvider": True} if prepare else True,
        "executeCommandProvider": {"commands": list(COMMANDS)},
        "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True}, "fileOperations": {}},
    }
    if pulls_diagnostics(caps):
        server["diagnosticProvider"] = {"identifier": DIAGNOSTICS_IDENTIFIER, "interFileDependencies": True,
                                        "workspaceDiagnostics": False}
    return {"capabilities": server, "serverInfo": {"name": SERVER_NAME, "version": SERVER_VERSION}}
