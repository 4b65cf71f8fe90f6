"""`osiris generate` and `osiris chat` against a scripted OpenAI-compatible endpoint on loopback.

The seed's three requests; the endpoint's first answers are invalid (unknown component, upsert
without `primary_key`, an inline password), a later one valid. Checked: what the model was sent
(the context, then the feedback), the file written, exit codes, and that neither the API key nor
an inline secret reaches the disk or the output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris_runtime.ai.context import build_context
from osiris_runtime.oml.connections import load_connections
from osiris_runtime.registry import Registry, default_search_paths

from .conftest import API_KEY, INLINE_PASSWORD, fake_chat, files_under, llm_env, osiris

Reply = fake_chat.Reply

SUPABASE_APPEND = """oml_version: "0.1.0"
name: orders-copy
steps:
  - id: read-orders
    component: supabase.extractor
    mode: read
    config: {connection: "@supabase.main", table: orders}
  - id: append-orders
    component: supabase.writer
    mode: write
    needs: [read-orders]
    config: {connection: "@supabase.analytics", table: orders, write_mode: append}
"""
SUPABASE_MERGE = """oml_version: "0.1.0"
name: customers-merge
steps:
  - id: read-customers
    component: supabase.extractor
    mode: read
    config: {connection: "@supabase.main", table: customers}
  - id: merge-customers
    component: supabase.writer
    mode: write
    needs: [read-customers]
    config: {connection: "@supabase.analytics", table: customers, write_mode: upsert, primary_key: id}
"""
MYSQL_TO_SUPABASE = """oml_version: "0.1.0"
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

SEED_REQUESTS = {
    "supabase-append": ("Copy the orders table from our main Supabase into analytics, appending rows", SUPABASE_APPEND),
    "supabase-merge": ("Merge customers from the main Supabase into analytics by id", SUPABASE_MERGE),
    "mysql-to-supabase": ("Move the MySQL orders table into Supabase", MYSQL_TO_SUPABASE),
}


def unknown_component(valid: str) -> str:
    return "Here it is:\n```yaml\n" + valid.replace("component: supabase.writer", "component: supabase.loader") + "```\n"


def upsert_without_primary_key(valid: str) -> str:
    if "primary_key" in valid:
        return valid.replace(", primary_key: id", "")
    return valid.replace("write_mode: append}", "write_mode: upsert}", 1)


def inline_password(valid: str) -> str:
    return valid.replace("write_mode:", f"password: {INLINE_PASSWORD}, write_mode:", 1)


def assert_nothing_leaked(result, *roots: Path) -> None:
    for secret in (API_KEY, INLINE_PASSWORD):
        assert secret not in result.stdout and secret not in result.stderr
        for root in roots:
            for path, content in files_under(root).items():
                assert secret.encode() not in content, path
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "plain"])
@pytest.mark.parametrize("case", list(SEED_REQUESTS))
def test_seed_requests_end_valid_after_three_invalid_answers(case: str, stream: bool, workspace: Path, chat_server,
                                                             isolated_environment: Path):
    request, valid = SEED_REQUESTS[case]
    chat_server.add(unknown_component(valid), upsert_without_primary_key(valid), inline_password(valid),
                    f"```yaml\n{valid}```")
    args = ["generate", request, "--out", "pipelines/generated.yaml", "--attempts", "4"] + ([] if stream else ["--no-stream"])
    result = osiris(*args, cwd=workspace, env=llm_env(chat_server))
    assert result.returncode == 0, result.stderr
    assert (workspace / "pipelines" / "generated.yaml").read_text() == valid
    assert "wrote pipelines/generated.yaml (4 attempt(s))" in result.stderr
    assert "attempt 1/4: 1 problem(s)" in result.stderr

    calls = chat_server.requests
    assert len(calls) == 4 and all(bool(c.body.get("stream")) is stream for c in calls)
    assert calls[0].headers["authorization"] == f"Bearer {API_KEY}"
    registry = Registry(default_search_paths(workspace, {}))
    context = build_context(registry, load_connections(workspace / "osiris_connections.yaml"))
    first = calls[0].messages
    assert [m["role"] for m in first] == ["system", "user"]
    assert context.text in first[0]["content"] and first[1]["content"] == request
    second = calls[1].messages
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert "oml.unknown-component" in second[3]["content"] and "supabase.loader" in second[2]["content"]
    assert "config.constraint" in calls[2].messages[-1]["content"]
    fourth = calls[3].messages
    assert "secret.inline" in fourth[-1]["content"]
    assert all(INLINE_PASSWORD not in m["content"] for m in fourth)  # the secret is not even sent back
    assert_nothing_leaked(result, workspace, isolated_environment)


def test_no_valid_answer_exits_2_with_the_problems_and_writes_nothing(workspace: Path, chat_server, isolated_environment: Path):
    _, valid = SEED_REQUESTS["supabase-merge"]
    chat_server.add(inline_password(valid), unknown_component(valid), inline_password(valid))
    result = osiris("generate", "merge customers", "--out", "merge.yaml", cwd=workspace, env=llm_env(chat_server))
    assert result.returncode == 2
    assert not (workspace / "merge.yaml").exists()
    assert "no valid pipeline after 3 attempt(s)" in result.stderr and "nothing was written" in result.stderr
    assert "oml.unknown-component" in result.stderr and "supabase.loader" in result.stderr
    assert_nothing_leaked(result, workspace, isolated_environment)


def test_json_reports_each_attempt_and_the_remaining_problems(workspace: Path, chat_server):
    _, valid = SEED_REQUESTS["mysql-to-supabase"]
    chat_server.add(unknown_component(valid), inline_password(valid))
    result = osiris("generate", "mysql to supabase", "--attempts", "2", "--json", cwd=workspace, env=llm_env(chat_server))
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["pipeline"] is None and report["file"] is None
    assert [a["errors"] for a in report["attempts"]] == [1, 2]
    # the best attempt is the one with fewer problems, and its problems are what remains
    assert [p["code"] for p in report["remaining"]] == ["oml.unknown-component"]
    assert report["remaining"][0]["line"] == 9 and report["remaining"][0]["path"] == "steps[1].component"
    assert all(a["validation_ms"] >= 0 and a["model_ms"] >= 0 for a in report["attempts"])
    assert INLINE_PASSWORD not in result.stdout and API_KEY not in result.stdout


def test_without_out_the_valid_pipeline_goes_to_stdout(workspace: Path, chat_server):
    _, valid = SEED_REQUESTS["supabase-append"]
    chat_server.add(valid)
    result = osiris("generate", "copy orders", cwd=workspace, env=llm_env(chat_server))
    assert result.returncode == 0, result.stderr
    assert result.stdout == valid


@pytest.mark.parametrize("env, expected", [
    ({}, "OSIRIS_LLM_BASE_URL, OSIRIS_LLM_MODEL, OSIRIS_LLM_API_KEY are not set"),
    ({"OSIRIS_LLM_BASE_URL": "http://127.0.0.1:9/v1", "OSIRIS_LLM_MODEL": "m"}, "OSIRIS_LLM_API_KEY is not set"),
])
def test_missing_settings_exit_5_with_a_clear_message(workspace: Path, env: dict[str, str], expected: str):
    result = osiris("generate", "anything", cwd=workspace, env=env)
    assert result.returncode == 5 and expected in result.stderr and "Traceback" not in result.stderr


def test_a_refused_key_exits_5(workspace: Path, chat_server):
    result = osiris("generate", "anything", cwd=workspace, env={**llm_env(chat_server), "OSIRIS_LLM_API_KEY": "sk-wrong-key-000"})
    assert result.returncode == 5 and "refused the API key (HTTP 401)" in result.stderr
    assert "sk-wrong-key-000" not in result.stderr and "Traceback" not in result.stderr


def test_a_timeout_exits_5(workspace: Path, chat_server):
    chat_server.add(Reply(SUPABASE_APPEND, delay_s=3))
    result = osiris("generate", "anything", cwd=workspace, env=llm_env(chat_server, OSIRIS_LLM_TIMEOUT="0.5"))
    assert result.returncode == 5 and "did not answer within 0.5 s" in result.stderr


def test_an_endpoint_that_is_down_exits_5_also_with_json(workspace: Path):
    env = {"OSIRIS_LLM_BASE_URL": "http://127.0.0.1:9/v1", "OSIRIS_LLM_MODEL": "m", "OSIRIS_LLM_API_KEY": API_KEY}
    result = osiris("generate", "anything", "--json", cwd=workspace, env=env)
    assert result.returncode == 5
    assert json.loads(result.stdout)["error"]["code"] == "llm.unreachable"
    assert API_KEY not in result.stdout + result.stderr


def test_an_unknown_model_exits_5(workspace: Path, chat_server):
    chat_server.add(Reply("model not found", status=404))
    result = osiris("generate", "anything", cwd=workspace, env=llm_env(chat_server))
    assert result.returncode == 5 and "does not know model" in result.stderr


def test_chat_builds_on_the_previous_answer_validates_and_saves(workspace: Path, chat_server, isolated_environment: Path):
    _, first = SEED_REQUESTS["mysql-to-supabase"]
    with_duckdb = first.replace("""  - id: push-orders
    component: supabase.writer
    mode: write
    needs: [pull-orders]""", """  - id: keep-shipped
    component: duckdb.processor
    mode: transform
    needs: [pull-orders]
    config: {query: "SELECT * FROM df_pull_orders WHERE status = 'shipped'"}
  - id: push-orders
    component: supabase.writer
    mode: write
    needs: [keep-shipped]""")
    chat_server.add(first, inline_password(with_duckdb), f"```yaml\n{with_duckdb}```")
    script = "\n".join([
        "Move the MySQL orders table into Supabase",
        "now add a DuckDB step that keeps shipped orders",
        "/validate",
        "/save pipelines/shipped.yaml",
        "/quit",
        "never read",
    ]) + "\n"
    result = osiris("chat", cwd=workspace, env=llm_env(chat_server), stdin=script)
    assert result.returncode == 0, result.stderr
    assert (workspace / "pipelines" / "shipped.yaml").read_text() == with_duckdb
    assert len(chat_server.requests) == 3
    second_turn = chat_server.requests[1].messages
    assert [m["role"] for m in second_turn] == ["system", "user", "assistant", "user"]
    assert "mysql.extractor" in second_turn[2]["content"] and second_turn[3]["content"].startswith("now add a DuckDB")
    assert "secret.inline" in chat_server.requests[2].messages[-1]["content"]
    assert result.stdout.count("oml_version") == 2  # both turns' pipelines shown
    assert "saved pipelines/shipped.yaml" in result.stderr
    assert result.stderr.count("turn: ") == 2 and "osiris" in result.stderr
    assert_nothing_leaked(result, workspace, isolated_environment)


def test_chat_refuses_to_save_an_invalid_pipeline(workspace: Path, chat_server):
    _, valid = SEED_REQUESTS["supabase-merge"]
    chat_server.add(upsert_without_primary_key(valid))
    result = osiris("chat", "--attempts", "1", cwd=workspace, env=llm_env(chat_server),
                    stdin="merge customers\n/save bad.yaml\n")
    assert result.returncode == 0
    assert not (workspace / "bad.yaml").exists()
    assert "not writing bad.yaml" in result.stderr and "config.constraint" in result.stderr


def test_chat_exits_5_when_the_endpoint_fails(workspace: Path, chat_server):
    chat_server.add(Reply(status=500, content="boom"))
    result = osiris("chat", cwd=workspace, env=llm_env(chat_server), stdin="anything\n")
    assert result.returncode == 5 and "llm.error" in result.stderr and "Traceback" not in result.stderr
