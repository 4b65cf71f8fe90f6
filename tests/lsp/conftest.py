"""pytest-lsp harness: the real `osiris-lsp` process, driven with recorded client capabilities.

Every end-to-end test runs twice, once as VS Code (1.65: push diagnostics) and once as Neovim
(0.11: pull diagnostics), so both diagnostics models and both capability sets are exercised.
Documents are written with a `|` cursor marker, as in actions/languageservices' tests.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

CLIENT_PROFILES = ["visual-studio-code", "neovim"]

CONNECTIONS_YAML = """\
connections:
  mysql:
    shop:
      default: true
      host: db.internal
      port: 3306
      database: shop
      user: reader
      password: ${LSP_TEST_MYSQL_PASSWORD}
    archive:
      host: archive.internal
      database: old
      user: reader
      password: hunter2-literal-secret
  supabase:
    analytics:
      url: https://abcdefgh.supabase.co
      key: ${LSP_TEST_SUPABASE_KEY}
"""


def write_workspace(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "osiris_connections.yaml").write_text(CONNECTIONS_YAML)
    return root


@pytest.fixture(scope="module")
def lsp_workspace(tmp_path_factory) -> Path:
    return write_workspace(tmp_path_factory.mktemp("lsp-ws"))


@pytest_lsp.fixture(
    scope="module",
    params=CLIENT_PROFILES,
    config=ClientServerConfig(server_command=[sys.executable, "-m", "osiris_lsp"]),
)
async def client(lsp_client: LanguageClient, request, lsp_workspace: Path):
    root_uri = lsp_workspace.as_uri()
    registrations: list[types.Registration] = []
    lsp_client.registrations = registrations  # type: ignore[attr-defined]

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:  # as real editors do: accept it
        registrations.extend(params.registrations)

    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=root_uri,
        workspace_folders=[types.WorkspaceFolder(uri=root_uri, name="ws")],
        initialization_options={"runEngine": "local"},
    ))
    yield
    await lsp_client.shutdown_session()


_counter = itertools.count()


def with_cursor(text: str) -> tuple[str, types.Position | None]:
    """Remove the `|` marker from a snippet; return the text and the marker's position."""
    text = textwrap.dedent(text)
    for n, line in enumerate(text.split("\n")):
        if "|" in line:
            col = line.index("|")
            return text.replace("|", "", 1), types.Position(line=n, character=col)
    return text, None


class Editor:
    """What a test does in an editor: open files, type, ask for features."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.versions: dict[str, int] = {}

    @property
    def pull(self) -> bool:
        caps = self.client.capabilities
        return bool(caps and caps.text_document and caps.text_document.diagnostic is not None)

    def open(self, text: str, name: str | None = None) -> tuple[str, types.Position | None]:
        text, cursor = with_cursor(text)
        name = name or f"doc{next(_counter)}.oml.yaml"
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="yaml", version=1, text=text)))
        return uri, cursor

    def change(self, uri: str, rng: types.Range, new_text: str) -> None:
        self.versions[uri] += 1
        self.client.diagnostics.pop(uri, None)  # push: wait for the new version's diagnostics
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=new_text)]))

    async def diagnostics(self, uri: str, timeout: float = 10.0) -> list[types.Diagnostic]:
        """The diagnostics of the latest version, pulled or waited for, whichever the client does."""
        if self.pull:
            report = await self.client.text_document_diagnostic_async(
                types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri)))
            return list(report.items)
        deadline = asyncio.get_running_loop().time() + timeout
        while uri not in self.client.diagnostics:
            if asyncio.get_running_loop().time() > deadline:
                return []
            await asyncio.sleep(0.02)
        return list(self.client.diagnostics[uri])

    async def completion(self, uri: str, pos: types.Position) -> list[types.CompletionItem]:
        result = await self.client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
        if result is None:
            return []
        return list(result.items if isinstance(result, types.CompletionList) else result)

    async def hover(self, uri: str, pos: types.Position) -> str | None:
        result = await self.client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos))
        if result is None:
            return None
        contents = result.contents
        return contents.value if isinstance(contents, types.MarkupContent) else str(contents)


@pytest.fixture()
def editor(client: LanguageClient, lsp_workspace: Path) -> Editor:
    return Editor(client, lsp_workspace)
