"""`osiris run` / `osiris-run` end to end in a subprocess: exit codes, artifacts, JSON, canaries."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import osiris

HERE = Path(__file__).parent
REPO = HERE.parents[1]
QUICKSTART = REPO / "examples" / "quickstart"

CANARY_PASS = "canary-pw-7f3a9c1e"
CANARY_DSN_PASS = "canary-dsn-b81d22"
CANARIES = (CANARY_PASS, CANARY_DSN_PASS)


def run_dir_of(result: subprocess.CompletedProcess[str]) -> Path:
    line = next(x for x in result.stdout.splitlines() if x.startswith("run directory: "))
    return Path(line.removeprefix("run directory: "))


def test_the_quickstart_runs_and_leaves_a_complete_run_directory(tmp_path: Path):
    result = osiris("run", str(QUICKSTART / "pipeline.yaml"), "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result)
    assert run_dir == (tmp_path / "run").resolve()
    assert {p.name for p in run_dir.iterdir()} >= {"manifest.yaml", "cfg", "events.jsonl", "metrics.json", "status.json"}
    assert sorted(p.name for p in (run_dir / "cfg").iterdir()) == [
        "extract-customers.json", "extract-orders.json", "revenue-by-country.json", "write-report.json"]
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert all({"ts", "run_id", "step", "event"} <= set(e) for e in events)
    ends = {e["step"]: e for e in events if e["event"] == "step_end"}
    assert ends["extract-orders"]["rows_read"] == 500 and "duration_ms" in ends["extract-orders"]
    assert ends["write-report"]["rows_written"] == 8
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["totals"]["rows_read"] == 550 and metrics["totals"]["rows_written"] == 8
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "ok" and status["exit_code"] == 0 and status["steps_completed"] == 4
    assert "output: " in result.stdout and "revenue_by_country.csv" in result.stdout
    assert "[osiris]" in result.stderr and "[osiris]" not in result.stdout  # logs on stderr


def test_the_default_run_directory_is_under_dot_osiris_runs(tmp_path: Path):
    result = osiris("run", str(QUICKSTART / "pipeline.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_dir = run_dir_of(result)
    assert run_dir.parent == (tmp_path / ".osiris" / "runs").resolve()
    stamp, run_id = run_dir.name.split("_")
    assert len(stamp) == 16 and stamp.endswith("Z")
    assert json.loads((run_dir / "status.json").read_text())["run_id"] == run_id


def test_headless_json_prints_one_json_object_and_runs_a_compiled_directory(tmp_path: Path):
    compiled = tmp_path / "compiled"
    assert osiris("compile", str(QUICKSTART / "pipeline.yaml"), "--out", str(compiled), cwd=tmp_path).returncode == 0
    result = osiris("--json", "--out", str(tmp_path / "run"), "--work-dir", str(QUICKSTART), str(compiled),
                    cwd=tmp_path, headless=True)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "ok" and summary["exit_code"] == 0
    assert [s["step"] for s in summary["steps"]] == ["extract-orders", "extract-customers", "revenue-by-country",
                                                     "write-report"]
    assert summary["totals"]["rows_written"] == 8
    assert "\x1b[" not in result.stderr  # no colour when headless


def write_pipeline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_invalid_oml_exits_2_and_nothing_runs(tmp_path: Path):
    path = write_pipeline(tmp_path, 'oml_version: "0.1.0"\nname: bad\nsteps:\n  - id: a\n    component: no.such\n'
                                    "    mode: read\n    config: {}\n")
    result = osiris("run", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert not (tmp_path / ".osiris").exists()


def test_an_unresolved_param_is_a_compile_error_exit_3(tmp_path: Path):
    path = write_pipeline(tmp_path, 'oml_version: "0.1.0"\nname: p\nsteps:\n  - id: a\n'
                                    "    component: filesystem.csv_extractor\n    mode: read\n"
                                    "    config: {path: \"${params.source}\"}\n")
    result = osiris("run", str(path), cwd=tmp_path)
    assert result.returncode == 3, result.stderr


CANARY_CONNECTIONS = """\
connections:
  canary:
    main:
      default: true
      host: db.internal
      user: app
      password: ${CANARY_PASS}
      dsn: postgresql://app:${CANARY_DSN_PASS}@db.internal:5432/app
"""

CANARY_PIPELINE = """\
oml_version: "0.1.0"
name: canary
steps:
  - id: numbers
    component: filesystem.csv_extractor
    mode: read
    needs: []
    config: {path: numbers.csv}
  - id: leak
    component: canary.writer
    mode: write
    needs: [numbers]
    config:
      connection: "@canary.main"
"""


def canary_workspace(tmp_path: Path, fail_with: str | None) -> Path:
    (tmp_path / "numbers.csv").write_text("n\n1\n2\n")
    (tmp_path / "osiris_connections.yaml").write_text(CANARY_CONNECTIONS)
    (tmp_path / "secrets.env").write_text(f"CANARY_PASS={CANARY_PASS}\n")
    text = CANARY_PIPELINE + (f"      fail_with: {json.dumps(fail_with)}\n" if fail_with else "")
    return write_pipeline(tmp_path, text)


def assert_no_canary_anywhere(tmp_path: Path, result: subprocess.CompletedProcess[str]) -> None:
    for canary in CANARIES:
        assert canary not in result.stdout
        assert canary not in result.stderr
    files = [p for p in (tmp_path / ".osiris").rglob("*") if p.is_file()]
    assert files, "the run left no files"
    for path in files:
        content = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in content, f"{canary} leaked into {path}"


@pytest.mark.parametrize("fail_with", [None, "cannot reach {dsn} with password {password}"], ids=["success", "failure"])
def test_canary_secrets_never_leave_the_process(tmp_path: Path, fail_with: str | None):
    path = canary_workspace(tmp_path, fail_with)
    for extra in ([], ["--json"]):
        result = osiris("run", str(path), "--secrets-file", "secrets.env", *extra, cwd=tmp_path,
                        env={"CANARY_DSN_PASS": CANARY_DSN_PASS})
        assert result.returncode == (4 if fail_with else 0), result.stderr
        assert_no_canary_anywhere(tmp_path, result)
    events = "".join(p.read_text() for p in (tmp_path / ".osiris").rglob("events.jsonl"))
    assert '"event":"connected"' in events and "***" in events  # the driver did try to leak them
    if fail_with:
        assert "cannot reach postgresql://app:***@db.internal" in result.stdout  # the JSON error, redacted


def test_an_unset_secret_variable_exits_5_naming_the_variable(tmp_path: Path):
    path = canary_workspace(tmp_path, None)
    result = osiris("run", str(path), cwd=tmp_path, env={"CANARY_DSN_PASS": CANARY_DSN_PASS})
    assert result.returncode == 5, result.stderr
    assert "CANARY_PASS" in result.stderr
    assert CANARY_DSN_PASS not in result.stderr + result.stdout
    status = json.loads(next((tmp_path / ".osiris").rglob("status.json")).read_text())
    assert status["exit_code"] == 5 and status["error"]["code"] == "secret.unresolved"


def test_a_failing_step_exits_4_with_the_step_named(tmp_path: Path):
    path = canary_workspace(tmp_path, "plain failure")
    result = osiris(str(path), "--secrets-file", "secrets.env", cwd=tmp_path,
                    env={"CANARY_DSN_PASS": CANARY_DSN_PASS}, headless=True)
    assert result.returncode == 4
    assert "step `leak`" in result.stderr and "plain failure" in result.stderr
    assert "Traceback" not in result.stderr
