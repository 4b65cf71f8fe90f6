"""Files written for Osiris v0.1.0 work unchanged: pipelines shaped like its docs/examples, a
connections file shaped like its sample, validated and compiled with warnings only (and run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from osiris_runtime.compiler import compile_pipeline
from osiris_runtime.oml.connections import load_connections, validate_connections
from osiris_runtime.oml.document import parse_oml
from osiris_runtime.oml.rules import validate
from osiris_runtime.registry import Registry

HERE = Path(__file__).parent / "original"
PIPELINES = sorted(HERE.glob("mysql_*.yaml"))
OSIRIS = str(Path(sys.executable).with_name("osiris"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


@pytest.mark.parametrize("pipeline", PIPELINES, ids=[p.stem for p in PIPELINES])
def test_validates_and_compiles_with_warnings_only(pipeline: Path, registry: Registry):
    connections = load_connections(HERE / "osiris_connections.yaml")
    assert [d for d in connections.diagnostics if d.is_error] == []
    found = validate(parse_oml(pipeline.read_text(), str(pipeline)), registry, connections=connections)
    assert [d.format() for d in found if d.is_error] == []
    result = compile_pipeline(pipeline.read_text(), registry, connections=connections, source=str(pipeline))
    assert result.pipeline is not None, [d.format() for d in result.errors]
    assert {d.code for d in result.warnings} <= {"config.constraint", "config.ignored-key", "oml.step-id-format"}


def test_the_sample_connections_file_raises_no_warning(registry: Registry):
    connections = load_connections(HERE / "osiris_connections.yaml")
    assert [d.format() for d in validate_connections(connections, registry)] == []


def test_the_defaults_pipeline_names_the_aliases_it_uses_in_the_manifest(registry: Registry):
    text = (HERE / "mysql_to_supabase_defaults.yaml").read_text()
    result = compile_pipeline(text, registry, connections=load_connections(HERE / "osiris_connections.yaml"))
    assert result.pipeline is not None
    assert [s["connection"] for s in result.pipeline.manifest["steps"]] == ["@mysql.primary", "@supabase.main"]


@pytest.mark.parametrize("pipeline", PIPELINES, ids=[p.stem for p in PIPELINES])
def test_the_cli_validates_and_compiles_them(pipeline: Path, tmp_path: Path):
    env = {**os.environ, "OSIRIS_CONNECTIONS": str(HERE / "osiris_connections.yaml")}
    checked = subprocess.run([OSIRIS, "oml", "validate", str(pipeline), "--json"], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    built = subprocess.run([OSIRIS, "compile", str(pipeline), "--out", str(tmp_path / "build"), "--json"], env=env,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    assert json.loads(built.stdout)["status"] == "ok"


TABLE = "i10_compat_movies"


@pytest.mark.integration
def test_a_default_connection_pipeline_runs_mysql_to_csv_with_crlf(tmp_path: Path):
    """The original's MySQL -> CSV shape relying on the `default: true` alias, run for real."""
    with pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True) as db:
        with db.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cur.execute(f"CREATE TABLE {TABLE} (id INT PRIMARY KEY, title VARCHAR(50))")
            cur.execute(f"INSERT INTO {TABLE} VALUES (1, 'Alien'), (2, 'Heat, the film')")
    try:
        (tmp_path / "osiris_connections.yaml").write_text(
            # root has no password here: an empty variable counts as unset, so give it an empty fallback
            (HERE / "osiris_connections.yaml").read_text().replace("${MYSQL_PASSWORD}", "${MYSQL_PASSWORD:-}"))
        (tmp_path / "pipeline.yaml").write_text(f"""\
oml_version: "0.1.0"
name: "movies-to-csv"
steps:
  - id: "extract-movies"
    component: "mysql.extractor"
    mode: "read"
    config:
      query: "SELECT id, title FROM {TABLE} ORDER BY id"
  - id: "write-movies-csv"
    component: "filesystem.csv_writer"
    mode: "write"
    needs: ["extract-movies"]
    config:
      path: "./output/movies.csv"
      newline: "\\r\\n"
      quoting: "all"
""")
        env = {**os.environ, "MYSQL_HOST": "127.0.0.1", "MYSQL_DATABASE": "test", "MYSQL_USER": "root", "MYSQL_PASSWORD": ""}
        env.pop("OSIRIS_CONNECTIONS", None)
        done = subprocess.run([OSIRIS, "run", "pipeline.yaml", "--json"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "output" / "movies.csv").read_bytes() == (
            b'"id","title"\r\n"1","Alien"\r\n"2","Heat, the film"\r\n')
        run_dir = Path(json.loads(done.stdout)["run_dir"])
        resolved = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()
                    if '"connection_resolved"' in line]
        assert resolved and all(e["alias"] == "primary" for e in resolved)  # the `default: true` alias
    finally:
        with pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test", autocommit=True) as db:
            with db.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
