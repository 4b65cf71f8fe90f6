"""`osiris run --engine e2b` through the real e2b SDK (debug mode) against the fake envd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2b_helpers import E2B_SPECS, REPO, compiled_dir, driver_step, osiris_run, read_events, summary_of

QUICKSTART = REPO / "examples" / "quickstart"
TIMING_KEYS = {"duration_ms", "rows_per_second"}


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def quickstart_copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(QUICKSTART, target, ignore=shutil.ignore_patterns("out", ".osiris"))
    return target / "pipeline.yaml"


def test_the_quickstart_gives_the_same_rows_bytes_and_metrics_with_both_engines(sandbox, tmp_path):
    runs = {}
    for engine in ("local", "e2b"):
        pipeline = quickstart_copy(tmp_path, engine)
        result = osiris_run(str(pipeline), "--engine", engine, "--json", "--out", str(tmp_path / f"run-{engine}"),
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        runs[engine] = (pipeline.parent, summary_of(result))
    (local_dir, local), (remote_dir, remote) = runs["local"], runs["e2b"]
    assert remote["engine"] == "e2b" and local["engine"] == "local"
    rows = lambda s: [(x["step"], x["status"], x["rows_read"], x["rows_written"], x["rows_in"], x["rows_out"])
                      for x in s["steps"]]
    assert rows(remote) == rows(local)
    assert remote["totals"] == local["totals"]
    assert remote["outputs"] == [str(remote_dir / "out" / "revenue_by_country.csv")]
    report = "out/revenue_by_country.csv"
    assert (remote_dir / report).read_bytes() == (local_dir / report).read_bytes()
    metrics = {e: json.loads((tmp_path / f"run-{e}" / "metrics.json").read_text()) for e in runs}
    for doc in metrics.values():
        doc.pop("run_id")
    local_metrics = json.dumps(without_timings(metrics["local"])).replace(str(local_dir), "<work>")
    remote_metrics = json.dumps(without_timings(metrics["e2b"])).replace(str(remote_dir), "<work>")
    assert remote_metrics == local_metrics
    # the same run directory, plus the sandbox in status.json
    names = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
    assert names(tmp_path / "run-e2b") == names(tmp_path / "run-local")
    status = json.loads((tmp_path / "run-e2b" / "status.json").read_text())
    assert status["engine"] == "e2b" and status["sandbox"]["sandbox_id"] == "debug_sandbox_id"
    assert status["sandbox"]["osiris"] == "preinstalled" and status["sandbox"]["remote_status"]["status"] == "ok"
    assert without_timings(status["sandbox"]["remote_totals"]) == without_timings(metrics["local"]["totals"])
    # the same step events, in a schema the local run also has
    step_events = lambda d: sorted((e["step"], e["event"]) for e in read_events(d) if e["step"])
    assert step_events(tmp_path / "run-e2b") == step_events(tmp_path / "run-local")
    events = read_events(tmp_path / "run-e2b")
    assert events[0]["event"] == "run_start" and events[0]["engine"] == "e2b"
    assert events[-1]["event"] == "run_end" and events[-2]["event"] == "sandbox_killed"
    assert {e["run_id"] for e in events} == {remote["run_id"]}


def test_what_is_uploaded_and_how_the_pipeline_is_started(sandbox, tmp_path):
    pipeline = quickstart_copy(tmp_path, "qs")
    (pipeline.parent / "unrelated.csv").write_text("not,needed\n")
    result = osiris_run(str(pipeline), "--engine", "e2b", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_id = summary_of(result)["run_id"]
    root = f"/home/user/osiris/{run_id}"
    uploads = sandbox.sandbox.uploads
    assert sorted(uploads) == sorted([f"{root}/compiled/manifest.yaml", *(f"{root}/compiled/cfg/{s}.json" for s in (
        "extract-orders", "extract-customers", "revenue-by-country", "write-report")),
        f"{root}/work/data/orders.csv", f"{root}/work/data/customers.csv"])
    assert uploads[f"{root}/work/data/orders.csv"] == (pipeline.parent / "data" / "orders.csv").read_bytes()
    run_dir = Path(summary_of(result)["run_dir"])
    assert uploads[f"{root}/compiled/manifest.yaml"] == (run_dir / "manifest.yaml").read_bytes()
    probe, pipeline_run = sandbox.sandbox.commands
    assert probe.cmd.startswith("osiris-run --version")
    assert "osiris-run" in pipeline_run.cmd and "--stream-events" in pipeline_run.cmd
    assert pipeline_run.envs == {}  # no connection: no variable at all


def test_a_failing_step_exits_4_naming_it_with_the_error_from_the_sandbox(sandbox, tmp_path):
    pipeline = quickstart_copy(tmp_path, "qs")
    pipeline.write_text(pipeline.read_text().replace("c.country,", "c.no_such_column,"))
    result = osiris_run(str(pipeline), "--engine", "e2b", "--json", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    summary = summary_of(result)
    assert summary["failed_step"] == "revenue-by-country" and summary["error"]["code"] == "run.sql-error"
    assert {s["step"]: s["status"] for s in summary["steps"]}["write-report"] == "cancelled"
    assert not (pipeline.parent / "out").exists()  # nothing written, nothing downloaded
    status = json.loads((Path(summary["run_dir"]) / "status.json").read_text())
    assert status["exit_code"] == 4 and status["failed_step"] == "revenue-by-country"


def slow_pipeline(tmp_path: Path, seconds: float) -> Path:
    return compiled_dir(tmp_path, [driver_step("numbers", "Numbers", mode="extract", count=3),
                                   driver_step("slow-sink", "Slow", needs=["numbers"], seconds=seconds)])


def test_the_sandbox_lifetime_running_out_exits_4_naming_the_running_step(sandbox, tmp_path):
    compiled = slow_pipeline(tmp_path, 30)
    started = time.monotonic()
    result = osiris_run(str(compiled), "--engine", "e2b", "--e2b-timeout", "3", "--json", cwd=tmp_path)
    assert time.monotonic() - started < 20
    assert result.returncode == 4, result.stderr
    summary = summary_of(result)
    assert summary["error"]["code"] == "e2b.timeout" and summary["failed_step"] == "slow-sink"
    assert "3 s" in summary["error"]["message"] and "last events" in summary["error"]["message"]
    assert "--e2b-timeout" in summary["error"]["message"]
    assert not sandbox.sandbox.processes  # the command was killed
    events = read_events(Path(summary["run_dir"]))
    assert [e["event"] for e in events][-2:] == ["sandbox_killed", "run_end"]


def test_the_timeout_also_comes_from_osiris_e2b_timeout(sandbox, tmp_path):
    result = osiris_run(str(slow_pipeline(tmp_path, 30)), "--engine", "e2b", "--json", cwd=tmp_path,
                        env={"OSIRIS_E2B_TIMEOUT": "2", "OSIRIS_E2B_TEMPLATE": "osiris-i12"})
    assert result.returncode == 4
    status = json.loads((Path(summary_of(result)["run_dir"]) / "status.json").read_text())
    assert status["sandbox"]["timeout_s"] == 2 and status["sandbox"]["template"] == "osiris-i12"


def test_a_sandbox_that_dies_mid_run_exits_4_with_the_step_and_the_last_events(sandbox, tmp_path):
    sandbox.die_when('"event":"step_start","component":"test.slow"')
    result = osiris_run(str(slow_pipeline(tmp_path, 30)), "--engine", "e2b", "--json", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    summary = summary_of(result)
    assert summary["error"]["code"] == "e2b.sandbox-lost" and summary["failed_step"] == "slow-sink"
    assert "step_start slow-sink" in summary["error"]["message"]
    statuses = {s["step"]: s["status"] for s in summary["steps"]}
    assert statuses["slow-sink"] == "failed"
    events = read_events(Path(summary["run_dir"]))
    assert any(e["event"] == "step_failed" and e["step"] == "slow-sink" for e in events)
    assert events[-1]["event"] == "run_end" and events[-1]["exit_code"] == 4


def test_without_an_api_key_it_exits_5_before_anything_reaches_a_sandbox(envd, tmp_path, monkeypatch):
    monkeypatch.delenv("E2B_DEBUG")
    pipeline = quickstart_copy(tmp_path, "qs")
    result = osiris_run(str(pipeline), "--engine", "e2b", "--json", cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    summary = summary_of(result)
    assert summary["error"]["code"] == "e2b.auth" and "E2B_API_KEY is not set" in summary["error"]["message"]
    assert "export E2B_API_KEY" in summary["error"]["message"]
    assert not envd.sandbox.commands and not envd.sandbox.uploads
    assert "E2B_API_KEY" in result.stderr  # the plain message says how to fix it too


def test_ctrl_c_kills_the_sandbox_command_and_exits_130(sandbox, tmp_path):
    compiled = slow_pipeline(tmp_path, 60)
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests" / "runner"), "OSIRIS_COMPONENTS_PATH": str(E2B_SPECS)}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "osiris-run"), str(compiled), "--engine", "e2b",
                             "--json", "--out", str(tmp_path / "run")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            events = (tmp_path / "run" / "events.jsonl")
            if events.exists() and '"step":"slow-sink","event":"step_start"' in events.read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the slow step never started")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["error"]["code"] == "run.interrupted"
    assert not sandbox.sandbox.processes  # the remote osiris-run is gone
    events = read_events(tmp_path / "run")
    assert [e["event"] for e in events][-2:] == ["sandbox_killed", "run_end"]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["exit_code"] == 130


def test_a_rejected_api_key_exits_5_before_anything_is_uploaded(envd, tmp_path, monkeypatch):
    from tests.fakes.e2b_api import RejectingControlPlane

    plane = RejectingControlPlane()
    try:
        monkeypatch.delenv("E2B_DEBUG")
        result = osiris_run(str(quickstart_copy(tmp_path, "qs")), "--engine", "e2b", "--json", cwd=tmp_path,
                            env={"E2B_API_KEY": "e2b_i12-wrong-key-canary", "E2B_API_URL": plane.url})
    finally:
        plane.stop()
    assert result.returncode == 5, result.stderr
    summary = summary_of(result)
    assert summary["error"]["code"] == "e2b.auth" and "rejected the API key" in summary["error"]["message"]
    # one create call, with the user's key as the SDK reads it: nothing else was attempted
    assert plane.requests == [("POST", "/v2/sandboxes", "e2b_i12-wrong-key-canary")]
    assert not envd.sandbox.commands and not envd.sandbox.uploads
    run_dir = Path(summary["run_dir"])
    for path in run_dir.rglob("*"):
        assert not path.is_file() or b"i12-wrong-key-canary" not in path.read_bytes()
    assert "i12-wrong-key-canary" not in result.stdout + result.stderr


def test_the_editor_run_command_uses_the_engine_and_sandbox_settings_of_the_language_server(sandbox, tmp_path):
    from osiris_lsp.features.commands import run_command_line
    from osiris_lsp.settings import ServerSettings
    from osiris_lsp.workspace import FolderContext

    settings = ServerSettings().merged({"osiris": {"runEngine": "e2b", "e2bTemplate": "osiris-i12", "e2bTimeout": 120}})
    pipeline = quickstart_copy(tmp_path, "qs")
    compiled = tmp_path / "compiled"
    assert osiris_run("--version", cwd=tmp_path).returncode == 0
    from osiris_runtime.cli.main import main  # compile as the editor's Compile command does

    with pytest.raises(SystemExit) as compiled_ok:
        main(["compile", str(pipeline), "--out", str(compiled)])
    assert compiled_ok.value.code == 0
    argv = run_command_line(compiled, FolderContext.create(tmp_path, settings), work_dir=pipeline.parent)
    assert argv[-8:-2] == ["--engine", "e2b", "--e2b-template", "osiris-i12", "--e2b-timeout", "120"]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    status = json.loads((Path(summary_of(result)["run_dir"]) / "status.json").read_text())
    assert status["engine"] == "e2b" and status["sandbox"]["template"] == "osiris-i12"
    assert status["sandbox"]["timeout_s"] == 120
