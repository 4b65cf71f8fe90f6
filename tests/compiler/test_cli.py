"""`osiris compile` end to end in a subprocess: files written, every exit code, --json, messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SPECS

OSIRIS = [sys.executable, "-m", "osiris_runtime.cli.main"]

GOOD = """\
oml_version: "0.1.0"
name: cli-demo
params:
  since: {type: string}
steps:
  - id: pull
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      query: "SELECT * FROM t WHERE d >= '${params.since}'"
  - id: save
    component: filesystem.csv_writer
    mode: write
    config: {path: out.csv}
"""

CONNECTIONS = """\
connections:
  mysql:
    shop: {host: localhost, database: shop, user: reader, password: "${SHOP_PASSWORD}"}
"""


def osiris(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_PARAM_", "OSIRIS_PROFILE"))}
    full_env.update({"OSIRIS_COMPONENTS_PATH": str(SPECS), "OSIRIS_CONNECTIONS": str(cwd / "osiris_connections.yaml")})
    full_env.update(env or {})
    return subprocess.run([*OSIRIS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.yaml").write_text(GOOD)
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    return tmp_path


def test_exit_0_writes_manifest_and_cfgs(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=2024-01-01", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "2 steps in 2 stages -> build/manifest.yaml" in done.stdout
    assert sorted(str(p.relative_to(workdir / "build")) for p in (workdir / "build").rglob("*") if p.is_file()) == [
        "cfg/pull.json", "cfg/save.json", "manifest.yaml"]
    assert "2024-01-01" in (workdir / "build" / "cfg" / "pull.json").read_text()


def test_env_param_is_used_when_no_flag_is_given(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "build", cwd=workdir, env={"OSIRIS_PARAM_SINCE": "2020-02-02"})
    assert done.returncode == 0, done.stderr
    assert "2020-02-02" in (workdir / "build" / "cfg" / "pull.json").read_text()


def test_exit_2_on_validation_errors_with_file_line_col(workdir: Path) -> None:
    (workdir / "pipeline.yaml").write_text(GOOD.replace("mysql.extractor", "mysql.extractr"))
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", cwd=workdir)
    assert done.returncode == 2
    assert "pipeline.yaml:7:16: error" in done.stderr and "Traceback" not in done.stderr
    assert not (workdir / "build" / "manifest.yaml").exists()


def test_exit_2_on_a_bad_command_line(workdir: Path) -> None:
    assert osiris("compile", "pipeline.yaml", "--out", "b", "--param", "novalue", cwd=workdir).returncode == 2
    assert osiris("compile", "missing.yaml", "--out", "b", cwd=workdir).returncode == 2
    assert osiris("compile", "pipeline.yaml", "--out", "b", "--mode", "lenient", cwd=workdir).returncode == 2


def test_exit_3_when_a_param_has_no_value(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "build", cwd=workdir)
    assert done.returncode == 3
    assert "pipeline.yaml:11:" in done.stderr and "param `since` has no value" in done.stderr


def test_exit_5_when_the_connections_file_is_missing_or_broken(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", "--connections", "nope.yaml",
                  cwd=workdir)
    assert done.returncode == 5, done.stderr
    (workdir / "osiris_connections.yaml").write_text("connections:\n  mysql: {shop: [\n")
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", cwd=workdir)
    assert done.returncode == 5, done.stderr
    assert re.search(r"osiris_connections.yaml:\d+:\d+: error", done.stderr)  # the broken file's own position
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", "--json", cwd=workdir)
    report = json.loads(done.stdout)
    assert done.returncode == 5 and report["exit_code"] == 5 and report["status"] == "error"
    assert report["error"]["code"] == "connection.invalid-file" and report["diagnostics"]
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", "--mode", "off", cwd=workdir)
    assert done.returncode == 0, done.stderr  # off does not look for a connections file...
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", "--mode", "off",
                  "--connections", "nope.yaml", cwd=workdir)
    assert done.returncode == 5  # ...but one it is given must exist


def test_strict_mode_fails_on_warnings(workdir: Path) -> None:
    (workdir / "pipeline.yaml").write_text(GOOD.replace("component: filesystem.csv_writer", "uses: filesystem.csv_writer"))
    warn = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", cwd=workdir)
    assert warn.returncode == 0 and "warning oml.deprecated-key" in warn.stderr
    strict = osiris("compile", "pipeline.yaml", "--out", "build2", "--param", "since=x", "--mode", "strict", cwd=workdir)
    assert strict.returncode == 2 and "error oml.deprecated-key" in strict.stderr


def test_json_output_shape(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=2024-01-01", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert report["manifest"] == "build/manifest.yaml" and report["steps"] == ["pull", "save"]
    assert report["stages"] == [["pull"], ["save"]] and report["params"] == {"since": "2024-01-01"}
    assert report["files"] == ["cfg/pull.json", "cfg/save.json", "manifest.yaml"]
    assert report["fingerprints"]["manifest"].startswith("sha256:")
    failed = osiris("compile", "pipeline.yaml", "--out", "build", "--json", cwd=workdir)
    report = json.loads(failed.stdout)
    assert failed.returncode == 3 and report["status"] == "error" and report["exit_code"] == 3
    [diag] = report["diagnostics"]
    assert diag["code"] == "params.unresolved" and diag["range"]["start"]["line"] == 10
    assert diag["text"].startswith("pipeline.yaml:11:")


def test_recompiling_removes_stale_cfgs(workdir: Path) -> None:
    assert osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", cwd=workdir).returncode == 0
    (workdir / "pipeline.yaml").write_text(GOOD.replace("id: save", "id: store"))
    assert osiris("compile", "pipeline.yaml", "--out", "build", "--param", "since=x", cwd=workdir).returncode == 0
    assert sorted(p.name for p in (workdir / "build" / "cfg").iterdir()) == ["pull.json", "store.json"]


def test_cli_output_is_identical_across_hash_seeds(workdir: Path) -> None:
    for seed, out in (("0", "a"), ("123", "b")):
        done = osiris("compile", "pipeline.yaml", "--out", out, "--param", "since=x", cwd=workdir,
                      env={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
    for name in ("manifest.yaml", "cfg/pull.json", "cfg/save.json"):
        assert (workdir / "a" / name).read_bytes() == (workdir / "b" / name).read_bytes()


def test_a_terminal_gets_a_short_rich_summary(workdir: Path) -> None:
    import pty

    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_PARAM_")}
    env.update({"OSIRIS_COMPONENTS_PATH": str(SPECS), "OSIRIS_CONNECTIONS": str(workdir / "osiris_connections.yaml"),
                "COLUMNS": "100", "TERM": "dumb"})
    leader, follower = pty.openpty()
    process = subprocess.Popen([*OSIRIS, "compile", "pipeline.yaml", "--out", "build", "--param", "since=x"],
                               cwd=workdir, env=env, stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert "stage" in screen and "pull" in screen and "save" in screen
    assert "2 steps, 2 stages" in screen and "build/manifest.yaml" in screen


_IMPORTS_CHILD = """
import json, sys
from osiris_runtime.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = {"rich", "duckdb", "pymysql", "psycopg", "supabase", "httpx", "pandas", "pygls", "osiris_runtime.runner"}
print(json.dumps({"code": code, "heavy": sorted(m for m in sys.modules if m in heavy)}))
"""


def test_compile_keeps_heavy_imports_out(workdir: Path) -> None:
    """Cold start is the CLI's budget: no Rich off a terminal, no runner, drivers or database clients."""
    env = {**os.environ, "OSIRIS_COMPONENTS_PATH": str(SPECS),
           "OSIRIS_CONNECTIONS": str(workdir / "osiris_connections.yaml")}
    done = subprocess.run([sys.executable, "-c", _IMPORTS_CHILD, "compile", "pipeline.yaml", "--out", "build",
                           "--param", "since=x"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, done.stderr


def test_exit_5_when_out_cannot_be_written(workdir: Path) -> None:
    done = osiris("compile", "pipeline.yaml", "--out", "pipeline.yaml/build", "--param", "since=x", cwd=workdir)
    assert done.returncode == 5, done.stderr
    assert "compile.cannot-write" in done.stderr and "Traceback" not in done.stderr
