"""`osiris.generate`'s endpoint in the editor: the `osiris.ai.*` settings win over the server's
`OSIRIS_LLM_*` environment; without an API key the error names what is missing (pytest-lsp, real server)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import API_KEY, CONNECTIONS_YAML, fake_chat
from .test_lsp_generate import VALID

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAT = fake_chat.FakeChatServer(api_key=API_KEY).start()
# The environment names an endpoint that is not there and a model it does not know: only the
# settings make Generate work.
BROKEN_ENV = {"OSIRIS_LLM_BASE_URL": "http://127.0.0.1:9/v1", "OSIRIS_LLM_MODEL": "env-model", "OSIRIS_LLM_TIMEOUT": "abc"}
SERVER_ENV = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_LLM_")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lsp-generate-settings")
    (root / "osiris_connections.yaml").write_text(CONNECTIONS_YAML)
    return root


async def start(client: LanguageClient, folder: Path, options: dict) -> None:
    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        pass

    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=folder.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name="ws")], initialization_options=options))


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "osiris_lsp"],
    server_env={**SERVER_ENV, **BROKEN_ENV, "OSIRIS_LLM_API_KEY": API_KEY}))
async def client(lsp_client: LanguageClient, folder: Path):
    await start(lsp_client, folder, {"osiris": {"ai": {"baseUrl": CHAT.base_url, "model": fake_chat.MODEL, "timeout": 30}}})
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "osiris_lsp"], server_env=SERVER_ENV))
async def keyless(lsp_client: LanguageClient, folder: Path):
    await start(lsp_client, folder, {"osiris": {"ai": {"baseUrl": CHAT.base_url}}})
    yield
    await lsp_client.shutdown_session()
    CHAT.stop()


async def generate(client: LanguageClient, request: str, where: Path):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.generate", arguments=[request, where.as_uri()]))


async def test_the_ai_settings_override_the_environment(client: LanguageClient, folder: Path):
    CHAT.add(VALID)
    result = await generate(client, "Move the MySQL orders table into Supabase", folder)
    assert result["ok"] is True, result
    assert CHAT.requests[-1].body["model"] == fake_chat.MODEL
    assert CHAT.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"  # the key: the environment's


async def test_a_changed_model_setting_is_used_by_the_next_generate(client: LanguageClient, folder: Path):
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"osiris": {"ai": {"baseUrl": CHAT.base_url, "model": "other-model", "timeout": 30}}}))
    CHAT.add(VALID)
    result = await generate(client, "the same again", folder)
    assert result["ok"] is True, result
    assert CHAT.requests[-1].body["model"] == "other-model"
    # an emptied setting falls back to the environment's value (here: nothing listens there)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"osiris": {"ai": {"baseUrl": "", "model": fake_chat.MODEL, "timeout": 5}}}))
    unreachable = await generate(client, "once more", folder)
    assert unreachable["ok"] is False and unreachable["error"]["code"] == "llm.unreachable", unreachable
    assert "127.0.0.1:9" in unreachable["error"]["message"]


async def test_without_an_api_key_the_error_says_what_is_missing(keyless: LanguageClient, folder: Path):
    before = sorted(folder.iterdir())
    asked = len(CHAT.requests)
    result = await generate(keyless, "Move the MySQL orders table into Supabase", folder)
    error = result["error"]
    assert result["ok"] is False and error["code"] == "llm.not-configured", result
    assert error["missing"] == ["model", "apiKey"], error
    assert "Osiris: Set AI API key" in error["message"] and "osiris.ai.model" in error["message"], error
    assert "baseUrl" not in error["message"]  # the setting gave it
    assert len(CHAT.requests) == asked and sorted(folder.iterdir()) == before
