"""`osiris mcp` driven by the MCP SDK's own client over stdio: every tool, bad arguments, errors."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from osiris_runtime.ai.context import build_context
from osiris_runtime.oml.connections import load_connections
from osiris_runtime.registry import Registry, default_search_paths

Session = Callable[[Client], Awaitable[Any]]

INVALID = """oml_version: "0.1.0"
name: orders-copy
steps:
  - id: read-orders
    component: supabase.reader
    mode: read
    config: {connection: "@supabase.main", table: orders}
  - id: write-orders
    component: supabase.writer
    mode: write
    needs: [read-orders]
    config: {connection: "@supabase.main", table: orders_copy, write_mode: upsert}
"""
VALID = INVALID.replace("supabase.reader", "supabase.extractor").replace("write_mode: upsert}", "write_mode: upsert, primary_key: id}")
CSV_COPY = """oml_version: "0.1.0"
name: csv-copy
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: data/in.csv}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [read]
    config: {path: out/copy.csv}
"""


def with_server(root: Path, session: Session, env: dict[str, str] | None = None) -> Any:
    params = StdioServerParameters(command=sys.executable, args=["-m", "osiris_runtime.cli.main", "mcp"], cwd=str(root),
                                   env={"OSIRIS_CACHE_DIR": os.environ["OSIRIS_CACHE_DIR"], **(env or {})})

    async def main() -> Any:
        async with Client(params) as client:
            return await session(client)

    return asyncio.run(asyncio.wait_for(main(), 120))


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


def test_tools_components_context_and_resources(workspace: Path):
    async def session(client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": sorted(t.name for t in (await client.list_tools()).tools)}
        out["writers"] = structured(await client.call_tool("list_components", {"mode": "write"}))
        out["all"] = structured(await client.call_tool("list_components", {}))
        out["spec"] = structured(await client.call_tool("get_component", {"name": "supabase.writer"}))
        out["unknown"] = await client.call_tool("get_component", {"name": "supabase.writr"})
        out["missing_arg"] = await client.call_tool("get_component", {})
        out["context"] = structured(await client.call_tool("get_context", {}))
        out["resources"] = [str(r.uri) for r in (await client.list_resources()).resources]
        out["resource"] = (await client.read_resource("osiris://components/mysql.writer")).contents[0].text
        return out

    out = with_server(workspace, session)
    assert out["tools"] == ["compile_pipeline", "get_component", "get_context", "list_components", "run_pipeline",
                            "validate_pipeline"]
    assert {c["name"] for c in out["writers"]["components"]} == {"filesystem.csv_writer", "mysql.writer", "supabase.writer"}
    assert len(out["all"]["components"]) == 7
    assert out["spec"]["spec"]["configSchema"]["properties"]["write_mode"]["enum"] == ["append", "replace", "upsert"]
    assert out["unknown"].is_error and "did you mean `supabase.writer`?" in out["unknown"].content[0].text
    assert out["missing_arg"].is_error and "name" in out["missing_arg"].content[0].text
    registry = Registry(default_search_paths(workspace, {}))
    expected = build_context(registry, load_connections(workspace / "osiris_connections.yaml"))
    assert out["context"]["context"] == expected.data and out["context"]["bytes"] == expected.size_bytes
    assert out["context"]["context"]["connections"] == {"mysql": ["shop"], "supabase": ["analytics", "main"]}
    assert "osiris://components/supabase.writer" in out["resources"] and len(out["resources"]) == 7
    assert json.loads(out["resource"])["name"] == "mysql.writer"


def test_validate_and_compile_report_lsp_shaped_diagnostics(workspace: Path):
    async def session(client: Client) -> dict[str, Any]:
        return {
            "invalid": structured(await client.call_tool("validate_pipeline", {"oml": INVALID, "path": "p.yaml"})),
            "valid": structured(await client.call_tool("validate_pipeline", {"oml": VALID})),
            "broken_yaml": structured(await client.call_tool("validate_pipeline", {"oml": "steps: [\n"})),
            "bad_type": await client.call_tool("validate_pipeline", {"oml": 42}),
            "compiled": structured(await client.call_tool("compile_pipeline", {"oml": VALID})),
            "not_compiled": structured(await client.call_tool("compile_pipeline", {"oml": INVALID})),
        }

    out = with_server(workspace, session)
    invalid = out["invalid"]
    assert invalid["valid"] is False and invalid["errors"] == 2
    unknown = next(d for d in invalid["diagnostics"] if d["code"] == "oml.unknown-component")
    assert (unknown["line"], unknown["column"], unknown["severity"]) == (5, 16, "error")
    assert unknown["fix"].startswith("did you mean") and unknown["source"] == "osiris"
    assert any(d["code"] == "config.constraint" and d["line"] == 12 for d in invalid["diagnostics"])
    assert out["valid"] == {"valid": True, "errors": 0, "warnings": 0, "diagnostics": []}  # aliases checked against the file
    assert out["broken_yaml"]["valid"] is False and out["broken_yaml"]["diagnostics"][0]["code"].startswith("yaml.")
    assert out["bad_type"].is_error
    compiled = out["compiled"]
    assert compiled["ok"] and compiled["manifest"]["name"] == "orders-copy"
    assert compiled["cfgs"]["write-orders"]["primary_key"] == "id"
    assert out["not_compiled"]["ok"] is False and out["not_compiled"]["exit_code"] == 2


def test_run_pipeline_runs_locally_and_returns_the_summary(workspace: Path):
    (workspace / "data").mkdir()
    (workspace / "data" / "in.csv").write_text("id,name\n1,ada\n2,grace\n")
    (workspace / "copy.yaml").write_text(CSV_COPY)

    async def session(client: Client) -> dict[str, Any]:
        return {
            "text": structured(await client.call_tool("run_pipeline", {"oml": CSV_COPY})),
            "file": structured(await client.call_tool("run_pipeline", {"path": "copy.yaml"})),
            "neither": await client.call_tool("run_pipeline", {}),
            "invalid": structured(await client.call_tool("run_pipeline", {"oml": INVALID})),
        }

    out = with_server(workspace, session)
    for key in ("text", "file"):
        assert out[key]["ok"] and out[key]["summary"]["status"] == "ok", out[key]
    assert (workspace / "out" / "copy.csv").read_text().splitlines()[1:] == ["1,ada", "2,grace"]
    assert out["neither"].is_error and "either `oml`" in out["neither"].content[0].text
    assert out["invalid"]["ok"] is False and out["invalid"]["exit_code"] == 2


@pytest.mark.integration
def test_a_failing_run_never_returns_the_secret(workspace: Path):
    secret = "Wr0ng-i13-Secret-Pw"
    (workspace / "osiris_connections.yaml").write_text(
        "connections:\n  mysql:\n    shop: {default: true, host: 127.0.0.1, port: 3306, database: test, user: root,"
        " password: '${I13_MYSQL_PASSWORD}'}\n")
    (workspace / "secrets.env").write_text(f"I13_MYSQL_PASSWORD={secret}\n")
    oml = CSV_COPY.replace("component: filesystem.csv_extractor", "component: mysql.extractor").replace(
        "config: {path: data/in.csv}", 'config: {connection: "@mysql.shop", query: "SELECT 1 AS x"}')

    async def session(client: Client) -> Any:
        return await client.call_tool("run_pipeline", {"oml": oml, "secrets_file": "secrets.env"})

    result = with_server(workspace, session)
    payload = structured(result)
    assert payload["ok"] is False and payload["exit_code"] in (4, 5)
    assert secret not in json.dumps(payload) and all(secret not in c.text for c in result.content)
