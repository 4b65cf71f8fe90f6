"""Compile and Run through workspace/executeCommand: progress, log messages, results, cancellation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

pytestmark = pytest.mark.asyncio(loop_scope="module")

PIPELINE = """\
oml_version: "0.1.0"
name: lsp-commands
steps:
  - id: read-orders
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/lsp_orders.csv
  - id: write-orders
    component: filesystem.csv_writer
    mode: write
    needs: [read-orders]
    config:
      path: out/lsp_orders_copy.csv
"""


@pytest.fixture()
def orders_csv(lsp_workspace: Path) -> Path:
    data = lsp_workspace / "data"
    data.mkdir(exist_ok=True)
    path = data / "lsp_orders.csv"
    path.write_text("id,amount\n1,10.5\n2,3\n3,7.25\n")
    return path


async def execute(editor, command: str, uri: str, token: str | None = None):
    if token is not None:
        editor.client.progress_reports.setdefault(token, [])
    return await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command, arguments=[uri], work_done_token=token))


async def test_compile_writes_manifest_and_reports_progress(editor, lsp_workspace, orders_csv):
    uri, _ = editor.open(PIPELINE, name="commands.oml.yaml")
    result = await execute(editor, "osiris.compile", uri, token="compile-1")
    assert result["ok"] is True
    out_dir = Path(result["out_dir"])
    assert out_dir == lsp_workspace / ".osiris" / "compiled" / "commands"
    assert (out_dir / "manifest.yaml").is_file() and (out_dir / "cfg" / "read-orders.json").is_file()
    assert str(out_dir / "manifest.yaml") in result["outputs"]
    kinds = [type(p).__name__ for p in editor.client.progress_reports["compile-1"]]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"


async def test_compile_of_a_broken_pipeline_returns_its_diagnostics(editor):
    uri, _ = editor.open(PIPELINE.replace("filesystem.csv_writer", "filesystem.csv_writr"), name="broken-cmd.oml.yaml")
    result = await execute(editor, "osiris.compile", uri)
    assert result["ok"] is False
    assert any(d["code"] == "oml.unknown-component" for d in result["diagnostics"])


async def test_run_returns_run_dir_outputs_and_row_counts(editor, lsp_workspace, orders_csv):
    uri, _ = editor.open(PIPELINE, name="run.oml.yaml")
    before = len(editor.client.log_messages)
    result = await execute(editor, "osiris.run", uri, token="run-1")
    assert result["ok"] is True, result
    assert result["rows"] == {"read-orders": 3, "write-orders": 3}
    assert Path(result["run_dir"]).is_dir()
    assert (lsp_workspace / "out" / "lsp_orders_copy.csv").read_text().count("\n") == 4
    logs = [m.message for m in editor.client.log_messages[before:]]
    assert any("write-orders: ok" in m for m in logs)
    reports = editor.client.progress_reports["run-1"]
    assert any(isinstance(r, types.WorkDoneProgressReport) and "read-orders" in (r.message or "") for r in reports)


async def test_run_uses_the_unsaved_editor_text(editor, lsp_workspace, orders_csv):
    uri, _ = editor.open(PIPELINE, name="unsaved.oml.yaml")
    editor.change(uri, types.Range(start=types.Position(13, 0), end=types.Position(13, 100)),
                  "      path: out/lsp_unsaved.csv")
    result = await execute(editor, "osiris.run", uri)
    assert result["ok"] is True, result
    assert (lsp_workspace / "out" / "lsp_unsaved.csv").is_file()


SLOW = """\
oml_version: "0.1.0"
name: lsp-slow
steps:
  - id: spin
    component: duckdb.processor
    mode: transform
    needs: []
    config:
      query: SELECT count(*) AS n FROM range(100000000000) a WHERE a.range % 7 = 3
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [spin]
    config:
      path: out/lsp_slow.csv
"""


async def test_run_can_be_cancelled_from_the_progress_ui(editor, lsp_workspace):
    uri, _ = editor.open(SLOW, name="slow.oml.yaml")
    task = asyncio.ensure_future(execute(editor, "osiris.run", uri, token="run-cancel"))
    for _ in range(200):  # wait until the run is under way
        if any("spin: started" in m.message for m in editor.client.log_messages):
            break
        await asyncio.sleep(0.05)
    editor.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token="run-cancel"))
    result = await asyncio.wait_for(task, timeout=20)
    assert result["ok"] is False and result["cancelled"] is True
    assert not (lsp_workspace / "out" / "lsp_slow.csv").exists()


async def test_unknown_command_fails_only_that_request(editor):
    with pytest.raises(JsonRpcException):
        await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(command="osiris.nope", arguments=[]))
    with pytest.raises(JsonRpcException, match="document URI"):
        await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(command="osiris.compile", arguments=[]))
    uri, pos = editor.open("oml_version: '0.1.0'\n|\n")
    assert await editor.completion(uri, pos)  # the server is still serving


async def test_run_can_be_cancelled_with_cancel_request(editor, lsp_workspace):
    uri, _ = editor.open(SLOW.replace("lsp_slow.csv", "lsp_slow2.csv"), name="slow2.oml.yaml")
    before = len(editor.client.log_messages)
    request = asyncio.ensure_future(editor.client.protocol.send_request_async(
        types.WORKSPACE_EXECUTE_COMMAND, types.ExecuteCommandParams(command="osiris.run", arguments=[uri]),
        msg_id="lsp-test-run-cancel"))
    for _ in range(200):
        if any("spin: started" in m.message for m in editor.client.log_messages[before:]):
            break
        await asyncio.sleep(0.05)
    editor.client.protocol.notify("$/cancelRequest", types.CancelParams(id="lsp-test-run-cancel"))
    try:
        result = await asyncio.wait_for(request, timeout=20)
        assert result["cancelled"] is True
    except asyncio.TimeoutError:
        raise
    except Exception as exc:  # the request was cancelled: an error response is what the spec asks for
        assert "cancel" in str(exc).lower()
    assert not (lsp_workspace / "out" / "lsp_slow2.csv").exists()


async def test_a_failed_run_names_the_step_its_error_and_where_it_is(editor, lsp_workspace, orders_csv):
    text = PIPELINE.replace("data/lsp_orders.csv", "data/i17_missing.csv")
    uri, _ = editor.open(text, name="failing.oml.yaml")
    result = await execute(editor, "osiris.run", uri)
    assert result["ok"] is False and result["failed_step"] == "read-orders", result
    assert "i17_missing.csv" in result["error"] and not result["error"].startswith("{")
    by_step = {s["step"]: s for s in result["steps"]}
    assert by_step["read-orders"]["status"] == "failed" and by_step["read-orders"]["rows"] is None
    assert "read-orders" not in result["rows"]  # no row count for a step that failed
    line = text.split("\n").index("  - id: read-orders")
    assert result["failed_step_range"]["start"] == {"line": line, "character": len("  - id: ")}


MYSQL_PIPELINE = """\
oml_version: "0.1.0"
name: lsp-unset
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      table: orders
"""


async def test_run_stops_before_starting_when_connection_variables_are_unset(editor, lsp_workspace):
    uri, _ = editor.open(MYSQL_PIPELINE, name="unset.oml.yaml")
    result = await execute(editor, "osiris.run", uri)
    assert result["ok"] is False and result["not_started"] is True, result
    [warning] = result["unset_variables"]
    assert warning["code"] == "connection.env-unset"
    assert warning["data"]["variables"] == ["LSP_TEST_MYSQL_PASSWORD"]
    assert "LSP_TEST_MYSQL_PASSWORD" in result["error"]
    assert not (lsp_workspace / ".osiris" / "runs").exists() or not any(
        "lsp-unset" in p.read_text() for p in (lsp_workspace / ".osiris" / "runs").glob("*/status.json"))


async def test_component_documentation_for_the_step_under_the_cursor(editor):
    uri, _ = editor.open(PIPELINE, name="docs.oml.yaml")
    line = PIPELINE.split("\n").index("    component: filesystem.csv_writer")
    result = await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.componentDoc", arguments=[uri, {"line": line + 2, "character": 6}]))
    assert result["component"] == "filesystem.csv_writer"
    assert result["markdown"].lstrip().startswith("<!--") or "# " in result["markdown"]
    assert "write_mode" in result["markdown"]
    outside = await editor.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="osiris.componentDoc", arguments=[uri, {"line": 0, "character": 0}]))
    assert "error" in outside
