"""`osiris.generate` through the real language server (pytest-lsp), against the fake chat endpoint:
results, files, progress per attempt on the request's work-done token, cancellation mid-attempt."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import API_KEY, CONNECTIONS_YAML, INLINE_PASSWORD, fake_chat

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The endpoint must exist before the server starts (its settings are the server's environment).
CHAT = fake_chat.FakeChatServer(api_key=API_KEY).start()
VALID = """oml_version: "0.1.0"
name: orders-to-supabase
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.shop", table: orders}
  - id: push-orders
    component: supabase.writer
    mode: write
    needs: [pull-orders]
    config: {connection: "@supabase.main", table: orders, write_mode: append}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lsp-generate")
    (root / "osiris_connections.yaml").write_text(CONNECTIONS_YAML)
    return root


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=[sys.executable, "-m", "osiris_lsp"],
        server_env={**os.environ, "OSIRIS_LLM_BASE_URL": CHAT.base_url, "OSIRIS_LLM_MODEL": fake_chat.MODEL,
                    "OSIRIS_LLM_API_KEY": API_KEY},
    ),
)
async def client(lsp_client: LanguageClient, folder: Path):
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:  # as real editors do: accept it
        pass

    lsp_client.init_result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=folder.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name="ws")]))
    yield
    await lsp_client.shutdown_session()
    CHAT.stop()


async def generate(client: LanguageClient, *args: str):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="osiris.generate",
                                                                                   arguments=list(args)))


async def test_the_server_offers_generate(client: LanguageClient):
    provider = client.init_result.capabilities.execute_command_provider  # type: ignore[attr-defined]
    assert "osiris.generate" in provider.commands


async def test_generate_writes_a_new_valid_pipeline_file(client: LanguageClient, folder: Path):
    CHAT.add(VALID.replace("write_mode: append", f"write_mode: append, password: {INLINE_PASSWORD}"), f"```yaml\n{VALID}```")
    result = await generate(client, "Move the MySQL orders table into Supabase", folder.as_uri())
    assert result["ok"] is True, result
    path = Path(result["file"])
    assert path == folder / "orders-to-supabase.oml.yaml" and path.read_text() == VALID
    assert [a["ok"] for a in result["attempts"]] == [False, True]
    assert INLINE_PASSWORD not in str(result)
    again = [VALID]
    CHAT.add(*again)
    second = await generate(client, "the same again")
    assert Path(second["file"]) == folder / "orders-to-supabase-2.oml.yaml"
    assert all(INLINE_PASSWORD.encode() not in p.read_bytes() for p in folder.rglob("*") if p.is_file())


async def test_generate_reports_endpoint_failures_and_invalid_results_without_writing(client: LanguageClient, folder: Path):
    before = sorted(folder.iterdir())
    CHAT.add(fake_chat.Reply(status=401))
    refused = await generate(client, "anything", folder.as_uri())
    assert refused["ok"] is False and refused["error"]["code"] == "llm.refused"
    CHAT.add(*(VALID.replace("supabase.writer", "supabase.loader"),) * 3)
    invalid = await generate(client, "anything", folder.as_uri())
    assert invalid["ok"] is False and invalid["problems"][0]["code"] == "oml.unknown-component" and "file" not in invalid
    empty = await generate(client, "  ")
    assert empty["ok"] is False and empty["error"]["code"] == "ai.empty-request"
    assert sorted(folder.iterdir()) == before


async def test_generate_reports_each_attempt_as_work_done_progress(client: LanguageClient, folder: Path):
    target = folder / "progress"
    target.mkdir()
    CHAT.add(VALID.replace("supabase.writer", "supabase.loader"), VALID)
    client.progress_reports.setdefault("gen-progress", [])
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.generate", arguments=["Move the MySQL orders table into Supabase", target.as_uri()],
        work_done_token="gen-progress"))
    assert result["ok"] is True and Path(result["file"]).parent == target, result
    reports = client.progress_reports["gen-progress"]
    begin, end = reports[0], reports[-1]
    assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable is True
    assert begin.title == "Osiris: generating a pipeline"
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "done"
    messages = [r.message for r in reports[1:-1] if isinstance(r, types.WorkDoneProgressReport)]
    assert messages == [f"attempt 1 of 3: asking {fake_chat.MODEL}", "attempt 1: 1 problem(s), asking again",
                        f"attempt 2 of 3: asking {fake_chat.MODEL}", "attempt 2: valid"], messages
    logs = [m.message for m in client.log_messages]
    assert "generate: attempt 1: 1 problem(s), asking again" in logs and "generate: attempt 2: valid" in logs


async def test_cancelling_generate_mid_attempt_closes_the_request_and_writes_nothing(client: LanguageClient, folder: Path):
    target = folder / "cancelled"
    target.mkdir()
    CHAT.add(fake_chat.Reply(VALID, delay_s=120))  # the model "thinks" for two minutes
    asked = len(CHAT.requests)
    client.progress_reports.setdefault("gen-cancel", [])
    request = asyncio.ensure_future(client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(
            command="osiris.generate", arguments=["Move the MySQL orders table into Supabase", target.as_uri()],
            work_done_token="gen-cancel"), msg_id="gen-cancel-1"))
    for _ in range(400):  # until the endpoint holds the request
        if len(CHAT.requests) > asked:
            break
        await asyncio.sleep(0.05)
    assert len(CHAT.requests) == asked + 1
    started = time.monotonic()
    client.protocol.notify("$/cancelRequest", types.CancelParams(id="gen-cancel-1"))
    result = await asyncio.wait_for(request, timeout=20)
    assert result == {"ok": False, "command": "generate", "cancelled": True, "attempts": []}, result
    assert time.monotonic() - started < 20
    for _ in range(100):  # the connection was closed, not left waiting for the answer
        if CHAT.abandoned:
            break
        await asyncio.sleep(0.05)
    assert [r.messages[-1]["content"] for r in CHAT.abandoned] == ["Move the MySQL orders table into Supabase"]
    assert list(target.iterdir()) == []
    end = client.progress_reports["gen-cancel"][-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "cancelled"
    assert "generate: cancelled" in [m.message for m in client.log_messages]
    # the server carries on: the next Generate is answered and written
    CHAT.add(VALID)
    again = await generate(client, "the same again", target.as_uri())
    assert again["ok"] is True and Path(again["file"]).parent == target, again
