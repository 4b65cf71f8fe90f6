"""`osiris oml validate` and `osiris oml schema` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from osiris_runtime.registry import BUILTIN_COMPONENTS_DIR, Registry

REPO = Path(__file__).resolve().parents[2]
SPECS = Path(__file__).parent / "specs"


def osiris(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("OSIRIS_CONNECTIONS", "OSIRIS_HOME")}
    full_env["OSIRIS_COMPONENTS_PATH"] = str(SPECS)
    full_env["P"] = "set"  # the fixtures' connections use ${P}: set, so no `connection.env-unset` warning
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=full_env, timeout=60)


@pytest.fixture
def workdir(tmp_path: Path, valid_pipeline: str) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "good.yaml").write_text(valid_pipeline)
    (tmp_path / "pipelines" / "bad.yaml").write_text(valid_pipeline.replace("component: duckdb.processor", "component: duckdb.procesor"))
    (tmp_path / "pipelines" / "warn.yaml").write_text(valid_pipeline.replace("name: orders-to-warehouse", "name: Orders"))
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  mysql:\n    shop: {host: h, database: d, user: u, password: '${P}'}\n"
        "    warehouse: {host: h, database: d, user: u, password: '${P}'}\n"
    )
    return tmp_path


def test_valid_file_exits_0(workdir: Path):
    result = osiris("oml", "validate", "pipelines/good.yaml", cwd=workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "valid" in result.stderr


def test_errors_print_file_line_col_severity_code_and_fix_and_exit_2(workdir: Path):
    result = osiris("oml", "validate", "pipelines/good.yaml", "pipelines/bad.yaml", cwd=workdir)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == "pipelines/bad.yaml:13:16: error oml.unknown-component: unknown component `duckdb.procesor`"
    assert result.stdout.splitlines()[1].strip() == "fix: did you mean `duckdb.processor`?"
    assert "Traceback" not in result.stderr


def test_warnings_pass_unless_strict(workdir: Path):
    assert osiris("oml", "validate", "pipelines/warn.yaml", cwd=workdir).returncode == 0
    strict = osiris("oml", "validate", "--strict", "pipelines/warn.yaml", cwd=workdir)
    assert strict.returncode == 2
    assert "error oml.name-format" in strict.stdout


def test_connections_file_is_found_upwards_or_given(workdir: Path, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "c.yaml"
    other.write_text("connections:\n  mysql:\n    other: {host: h}\n")
    found = osiris("oml", "validate", "pipelines/good.yaml", cwd=workdir)
    assert "connection.unknown-alias" not in found.stdout
    given = osiris("oml", "validate", "--connections", str(other), "pipelines/good.yaml", cwd=workdir)
    assert given.returncode == 2 and "connection.unknown-alias" in given.stdout
    from_env = osiris("oml", "validate", "pipelines/good.yaml", cwd=workdir, env={"OSIRIS_CONNECTIONS": str(other)})
    assert "connection.unknown-alias" in from_env.stdout


def test_json_output_shape(workdir: Path):
    result = osiris("oml", "validate", "--json", "pipelines/good.yaml", "pipelines/bad.yaml", cwd=workdir)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["summary"] == {"files": 2, "errors": 1, "warnings": 0}
    bad = report["files"][1]
    assert bad["file"] == "pipelines/bad.yaml" and bad["valid"] is False and bad["steps_count"] == 3
    assert bad["name"] == "orders-to-warehouse" and bad["oml_version"] == "0.1.0"
    (diag,) = bad["diagnostics"]
    assert diag["code"] == "oml.unknown-component"
    assert diag["range"]["start"] == {"line": 12, "column": 15}
    assert diag["data"]["replacement"] == "duckdb.processor"
    assert report["connections"][0]["file"].endswith("osiris_connections.yaml")


def test_unreadable_and_non_utf8_files(workdir: Path):
    (workdir / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    missing = osiris("oml", "validate", "nope.yaml", cwd=workdir)
    assert missing.returncode == 2 and "oml.unreadable" in missing.stdout
    latin = osiris("oml", "validate", "latin.yaml", cwd=workdir)
    assert latin.returncode == 2 and "yaml.encoding" in latin.stdout and "Traceback" not in latin.stderr


def test_schema_command_prints_json_schema(workdir: Path):
    result = osiris("oml", "schema", cwd=workdir)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "duckdb.processor" in schema["$defs"]["config"]


def test_committed_schema_is_up_to_date():
    from osiris_runtime.oml.schema import oml_json_schema, schema_text

    committed = (REPO / "schemas" / "oml.schema.json").read_text(encoding="utf-8")
    fresh = schema_text(oml_json_schema(Registry([BUILTIN_COMPONENTS_DIR])))
    assert committed == fresh, "schemas/oml.schema.json is stale: run `osiris oml schema -o schemas/oml.schema.json`"


def test_validate_warns_about_unset_connection_variables_by_name_only(tmp_path: Path):
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n  mysql:\n    shop:\n      default: true\n      host: h\n      database: d\n"
        "      user: ${I17_SHOP_USER:-reader}\n      password: ${I17_SHOP_PASSWORD}\n")
    (tmp_path / "p.yaml").write_text(
        'oml_version: "0.1.0"\nname: p\nsteps:\n  - id: a\n    component: mysql.extractor\n    mode: read\n'
        '    config:\n      connection: "@mysql.shop"\n      table: t\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("I17_")}
    unset = osiris("oml", "validate", "p.yaml", cwd=tmp_path, env=env)
    assert unset.returncode == 0, unset.stdout + unset.stderr
    assert "p.yaml:8:19: warning connection.env-unset: @mysql.shop uses `${I17_SHOP_PASSWORD}` (password)" in unset.stdout
    assert "I17_SHOP_USER" not in unset.stdout  # it has a fallback
    (tmp_path / ".env").write_text("I17_SHOP_PASSWORD=s3cr3t-value\n")
    from_file = osiris("oml", "validate", "--secrets-file", ".env", "p.yaml", cwd=tmp_path, env=env)
    assert "env-unset" not in from_file.stdout and "s3cr3t" not in from_file.stdout + from_file.stderr
    from_env = osiris("oml", "validate", "p.yaml", cwd=tmp_path, env={**env, "I17_SHOP_PASSWORD": "x"})
    assert "env-unset" not in from_env.stdout


def test_an_error_after_500_warnings_fails_validation_and_json_says_invalid(workdir: Path):
    steps = "".join(f"  - {{id: s{i}, uses: duckdb.processor, mode: transform, needs: [], config: {{query: 'select 1'}}}}\n"
                    for i in range(600))
    (workdir / "pipelines" / "many.yaml").write_text(
        'oml_version: "0.1.0"\nname: many\nsteps:\n' + steps + "  - {id: zz, component: nope, mode: read}\n")
    result = osiris("oml", "validate", "pipelines/many.yaml", cwd=workdir)
    assert result.returncode == 2
    assert "oml.unknown-component" in result.stdout and "101 more problems not shown" in result.stdout
    report = json.loads(osiris("oml", "validate", "--json", "pipelines/many.yaml", cwd=workdir).stdout)
    assert report["valid"] is False and report["summary"] == {"files": 1, "errors": 1, "warnings": 600}
