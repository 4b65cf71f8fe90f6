"""VS Code for real: the built .vsix installed into code-server, driven through headless chromium
by playwright-core (drive_vscode.js), a screenshot of each state kept in the test's folder (and
copied to $OSIRIS_E2E_ARTIFACTS when set).

One session walks through what a user does, in order: VS Code starts with `osiris.pythonPath`
pointing at a Python without Osiris (one notification, activation does not hang), then the
setting is fixed and the server starts; a plain `pipeline.yaml` gets the OML language; the broken
pipeline shows problems (status bar count), completion, hover and quick fixes that leave no
error; Compile from the code lens opens the manifest; Run of the quickstart from the code lens
reports rows per step; a failing run shows its error and a step diagnostic; the Runs view lists
the runs; rename updates `needs` and SQL; component documentation opens as rendered Markdown;
Generate pipeline from a description, against the scripted chat endpoint (tests/fakes/openai_chat.py)
set by the `osiris.ai.*` settings, first says that the API key is missing and offers Osiris: Set AI
API key, whose key reaches the restarted server; it retries an invalid answer with its problems
and opens the valid pipeline it wrote, says plainly when no answer was valid (nothing written),
and a Generate whose model hangs shows its attempt and is cancelled from the notification (the
request closed, nothing written); the API key is in no file and no output.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.fakes import openai_chat as fake_chat

pytestmark = [pytest.mark.editor, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


API_KEY = "sk-osiris-e2e-9d3b7a51c8"
INLINE_PASSWORD = "Inline-e2e-Secret-77"
MYSQL_PASSWORD = "Shop-e2e-Password-31"  # exported, so @mysql.shop has no unset variable
GENERATE_REQUEST = "Copy the MySQL orders table into orders_copy"
GENERATED = """\
oml_version: "0.1.0"
name: orders-copy
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      table: orders
  - id: push-orders
    component: mysql.writer
    mode: write
    needs: [pull-orders]
    config:
      connection: "@mysql.shop"
      table: orders_copy
      write_mode: append
"""
# First Generate: an unknown component, then the valid pipeline. Second: three invalid answers
# (the default number of attempts), one of them with an inline password. Third: a model that
# thinks for minutes, cancelled.
CHAT_SCRIPT = (
    GENERATED.replace("component: mysql.writer", "component: mysql.loader"),
    f"Here it is:\n```yaml\n{GENERATED}```",
    GENERATED.replace("write_mode: append", "write_mode: upsert"),
    GENERATED.replace("write_mode: append", f"write_mode: append\n      password: {INLINE_PASSWORD}"),
    GENERATED.replace("component: mysql.extractor", "component: mysql.reader"),
    fake_chat.Reply(GENERATED, delay_s=300),
)

UPSERT = """\
oml_version: "0.1.0"
name: upsert-orders
steps:
  - id: pull-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: SELECT id FROM orders
  - id: push-orders
    component: mysql.writer
    mode: write
    config:
      connection: "@mysql.shop"
      table: orders_copy
      write_mode: upsert
"""
FAILING = """\
oml_version: "0.1.0"
name: failing-run
steps:
  - id: read-missing
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/no_such_file.csv
  - id: write-copy
    component: filesystem.csv_writer
    mode: write
    config:
      path: out/copy.csv
"""
SQL_RENAME = """\
oml_version: "0.1.0"
name: sql-rename
steps:
  - id: raw-orders
    component: filesystem.csv_extractor
    mode: read
    config:
      path: data/orders.csv
  - id: totals
    component: duckdb.processor
    mode: transform
    needs: [raw-orders]
    config:
      query: SELECT count(*) AS n FROM "raw-orders"
"""

WRITER = """\
oml_version: "0.1.0"
name: writer-config
steps:
  - id: load-orders
    component: mysql.writer
    mode: write
    needs: []
    config:
      
"""


@pytest.fixture
def vscode_workspace(broken_pipeline) -> Path:
    """The broken-pipeline folder plus the quickstart (a plain pipeline.yaml) and a few pipelines."""
    ws = broken_pipeline.workspace
    shutil.copytree(REPO / "examples" / "quickstart" / "data", ws / "data")
    shutil.copy(REPO / "examples" / "quickstart" / "pipeline.yaml", ws / "pipeline.yaml")
    (ws / "upsert.oml.yaml").write_text(UPSERT)
    (ws / "failing.oml.yaml").write_text(FAILING)
    (ws / "sql.oml.yaml").write_text(SQL_RENAME)
    (ws / "writer.oml.yaml").write_text(WRITER)
    return ws


@pytest.fixture
def python_without_osiris(tmp_path) -> Path:
    """A fresh venv: Python, no Osiris (bug 1 of issue 17)."""
    venv.create(tmp_path / "no-osiris", with_pip=False)
    return tmp_path / "no-osiris" / "bin" / "python"


@pytest.fixture
def vscode_settings(python_without_osiris, chat_server) -> dict:
    """The endpoint and model of Generate as settings; its key is set through the command."""
    return {"osiris.pythonPath": str(python_without_osiris), "osiris.runEngine": "local",
            "osiris.ai.baseUrl": chat_server.base_url, "osiris.ai.model": fake_chat.MODEL}


@pytest.fixture
def chat_server():
    """The scripted OpenAI-compatible endpoint on loopback; it refuses any other key."""
    server = fake_chat.FakeChatServer(api_key=API_KEY).start()
    server.add(*CHAT_SCRIPT)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def code_server_env() -> dict[str, str]:
    """The connection's password, as a user exports it before starting the editor; no OSIRIS_LLM_*
    (any the test runner has are masked: Generate's endpoint is the settings', its key the command's)."""
    return {"MYSQL_SHOP_PASSWORD": MYSQL_PASSWORD, "OSIRIS_LLM_BASE_URL": "", "OSIRIS_LLM_MODEL": "", "OSIRIS_LLM_API_KEY": ""}


def test_vscode_extension_end_to_end(code_server, vscode_workspace, server_under_test, tmp_path, node, editor_tools,
                                     chat_server):
    shots = tmp_path / "shots"
    shots.mkdir()
    pipelines_before = sorted(p.name for p in vscode_workspace.rglob("*.oml.yaml"))
    proc = subprocess.run(
        [node, str(Path(__file__).with_name("drive_vscode.js"))],
        env={**os.environ, "PLAYWRIGHT_CORE": editor_tools.playwright_core(), "CHROMIUM": editor_tools.chromium(),
             "VSCODE_URL": code_server.url, "SETTINGS_FILE": str(code_server.settings_file),
             "GOOD_PYTHON": server_under_test.command[0], "OUT_DIR": str(shots),
             "GENERATE_REQUEST": GENERATE_REQUEST, "GENERATED_NAME": "orders-copy.oml.yaml", "AI_API_KEY": API_KEY},
        capture_output=True, text=True, timeout=420)
    artifacts = os.environ.get("OSIRIS_E2E_ARTIFACTS")
    if artifacts:
        shutil.copytree(shots, Path(artifacts) / "vscode", dirs_exist_ok=True)
    result_file = shots / "result.json"
    logs = f"driver rc={proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}\ncode-server log:\n" + (
        code_server.log.read_text()[-3000:])
    assert result_file.exists(), logs
    r = json.loads(result_file.read_text())
    context = f"\nsteps: {json.dumps(r['steps'], indent=1)}\nscreenshots in {shots}\n{logs}"
    assert r["ok"], f"{r.get('error')}{context}"

    # 1. no Osiris in osiris.pythonPath: one notification with the three actions, no hang
    assert "Osiris is not installed in" in r["missing_notification"], r["missing_notification"]
    assert r["missing_actions"] == ["Install into this interpreter", "Select interpreter", "Open settings"], r
    assert r["missing_notifications_count"] == 1, r
    assert "error" in r["status_missing"], r["status_missing"]
    # then the setting is fixed: the server starts
    assert "Osiris" in r["status_ready"] and "error" not in r["status_ready"], r["status_ready"]

    # 2. content detection: the quickstart's plain pipeline.yaml is OML
    assert r["quickstart_language"] == "OML", r["quickstart_language"]

    # 3. the broken pipeline: squiggle, count in the status bar, completion, problems, hover
    assert r["first_diagnostics_ms"] < 10_000, r["first_diagnostics_ms"]
    assert re.search(r"\d+ errors?", r["status_broken"]), r["status_broken"]
    labels = " | ".join(r["completion"])
    assert "mysql.extractor" in labels and "supabase.writer" in labels, labels
    problems = " | ".join(r["problems"])
    assert "oml.unknown-component" in problems and "broken.oml.yaml" in problems, problems
    assert "MySQL" in r["hover"], r["hover"]
    assert "Replace `mysql.extractr` with `mysql.extractor`" in " | ".join(r["quick_fixes"]), r["quick_fixes"]
    assert not [p for p in r["problems_after_fix"] if "oml.unknown-component" in p], r["problems_after_fix"]
    assert r["status_after_fix"] != r["status_broken"], (r["status_after_fix"], r["status_broken"])

    # 4. config-key completion: the required-fields snippet first, connection first in it
    assert r["config_completion"][0].startswith("(required fields)"), r["config_completion"]
    assert r["config_completion"][1].startswith("connection"), r["config_completion"]
    assert not [c for c in r["config_completion"][:4] if c.startswith("password")], r["config_completion"]

    # 5. the upsert quick fix leaves no error
    assert "primary_key" in " | ".join(r["upsert_fixes"]), r["upsert_fixes"]
    assert not [p for p in r["upsert_problems_after_fix"] if "config.constraint" in p], r["upsert_problems_after_fix"]

    # 6. Compile from the code lens: progress, the manifest opens beside, a result toast
    assert "compiled 2 steps" in r["compile_message"], r["compile_message"]
    assert r["manifest_tab_open"], r
    assert (vscode_workspace / ".osiris" / "compiled" / "good" / "manifest.yaml").is_file()

    # 7. Run of the quickstart from the code lens: rows per step in the summary, the report on disk
    assert "run ok: " in r["run_message"] and "write-report 8 rows" in r["run_message"], r["run_message"]
    assert "Open output" in r["run_actions"] and "Open run directory" in r["run_actions"], r["run_actions"]
    assert (vscode_workspace / "out" / "revenue_by_country.csv").read_text().count("\n") == 9

    # 8. a failing run: the error itself in the toast, a diagnostic on the failing step
    assert "run failed at step read-missing" in r["failed_message"] and "no_such_file.csv" in r["failed_message"], r["failed_message"]
    assert any("run failed" in p and "no_such_file.csv" in p for p in r["failed_problems"]), r["failed_problems"]

    # 9. the Runs view lists both runs, newest first, with their steps
    runs = " | ".join(r["runs_view"])
    assert "failing-run" in runs and "quickstart-revenue-by-country" in runs, runs

    # 10. rename across needs and SQL
    assert 'FROM "orders-raw"' in r["renamed_text"] and "needs: [orders-raw]" in r["renamed_text"], r["renamed_text"]

    # 11. component documentation as rendered Markdown
    assert r["doc_tab"] and "csv" in r["doc_tab"].lower(), r

    # 12. Generate without a key: an error offering the Set command (a password box); the key set
    # there reached the restarted server, which asked the same request again. The invalid first
    # answer was retried with its problems; the valid one was written, opened as OML, no problems
    assert "no API key" in r["keyless_message"] and r["keyless_is_error"], r["keyless_message"]
    assert r["keyless_actions"] == ["Set AI API key", "Show output"], r["keyless_actions"]
    assert r["key_box_is_password"], r
    calls = chat_server.requests
    assert calls[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert calls[0].messages[-1]["content"] == GENERATE_REQUEST
    assert "mysql.loader" in calls[1].messages[-2]["content"], calls[1].messages[-2]
    assert "oml.unknown-component" in calls[1].messages[-1]["content"], calls[1].messages[-1]
    assert "wrote " in r["generate_message"] and "orders-copy.oml.yaml (2 attempts)" in r["generate_message"], r["generate_message"]
    assert "orders-copy.oml.yaml" in r["generate_tab"], r["generate_tab"]
    assert r["generate_language"] == "OML", r["generate_language"]
    assert r["generate_status"].endswith("Osiris no problems"), r["generate_status"]
    assert r["generate_squiggles"] == 0 and r["generate_problems"] == [], r
    generated = vscode_workspace / "orders-copy.oml.yaml"
    assert generated.read_text() == GENERATED
    validated = subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", "oml", "validate", generated.name],
                               cwd=vscode_workspace, capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    # 13. only invalid answers: an error toast that says so, no file, the fake asked 3 more times
    assert "no valid pipeline after 3 attempts; nothing was written" in r["generate_failed_message"], r["generate_failed_message"]
    assert r["generate_failed_is_error"] and r["generate_failed_actions"] == ["Show output"], r
    assert r["generate_progress_ended"], "the progress notification stayed after the answer"
    assert len(calls) == len(CHAT_SCRIPT), [c.messages[-1]["content"][:80] for c in calls]
    assert sorted(p.name for p in vscode_workspace.rglob("*.oml.yaml")) == sorted([*pipelines_before, generated.name])

    # 14. the hanging model: the notification named the attempt and the model; Cancel closed the
    # request at the endpoint (not left waiting for minutes) and said so quietly
    assert f"attempt 1 of 3: asking {fake_chat.MODEL}" in r["cancel_progress"], r["cancel_progress"]
    assert "generation cancelled" in r["cancel_message"] and r["cancel_is_info"] and r["cancel_actions"] == [], r
    assert r["cancel_progress_ended"], "the progress notification stayed after the cancel"
    assert [c.messages[-1]["content"] for c in chat_server.abandoned] == [GENERATE_REQUEST], chat_server.abandoned

    # the API key, the inline password and the exported password: in no file (workspace, VS Code's logs and data, the
    # output channel's log) and not in the output channel as shown
    channel_logs = [p for p in tmp_path.rglob("*Osiris.log")]
    assert channel_logs and "generate: attempt 1: 1 problem(s)" in channel_logs[0].read_text(), channel_logs
    for secret in (API_KEY, INLINE_PASSWORD, MYSQL_PASSWORD):
        assert secret not in r["output_channel"]
        leaked = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]
        assert not leaked, (secret, leaked)

    # no stray output: no pygls cancel warnings, no lone `true` lines
    output = r["output_channel"]
    assert "Cancel notification" not in output and "\ntrue\n" not in f"\n{output}\n", output[-2000:]
    print(f"first diagnostics after opening a pipeline (cold): {r['first_diagnostics_ms']} ms")
