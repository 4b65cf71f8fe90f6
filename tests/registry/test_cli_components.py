"""`osiris components list|spec|validate|docs`: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from osiris_runtime.cli.main import main

from .conftest import BUILTIN_NAMES, SpecWriter, minimal_spec


def osiris(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_list_shows_the_four_components_with_version_modes_and_capabilities(capsys):
    code, out, _ = osiris(capsys, "components", "list")
    assert code == 0
    for name in BUILTIN_NAMES:
        assert name in out
    assert "1.0.0" in out and "discover" in out and "bulkOperations" in out and "transactions" in out


def test_list_json_is_an_array_of_summaries(capsys):
    code, out, _ = osiris(capsys, "components", "list", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and set(BUILTIN_NAMES) <= set(rows)
    writer = rows["mysql.writer"]
    assert writer["modes"] == ["write", "discover"]
    assert "transactions" in writer["capabilities"] and writer["runnable"] is True
    assert writer["driver"] == "osiris_runtime.drivers.mysql.MySQLWriter"


def test_list_filters_by_mode(capsys):
    _, out, _ = osiris(capsys, "components", "list", "--json", "--mode", "write")
    assert {"mysql.writer", "supabase.writer"} <= {r["name"] for r in json.loads(out)}
    assert "mysql.extractor" not in {r["name"] for r in json.loads(out)}


def test_list_reports_invalid_workspace_specs_on_stderr_and_lists_the_rest(capsys, isolated_environment: Path,
                                                                           write_spec: SpecWriter):
    write_spec(isolated_environment / "components", minimal_spec("acme.extractor", modes=["teleport"]))
    write_spec(isolated_environment / "components", minimal_spec("acme.writer", modes=["write"]))
    code, out, err = osiris(capsys, "components", "list", "--json")
    assert code == 0
    assert "acme.writer" in {r["name"] for r in json.loads(out)}
    assert "acme.extractor/spec.yaml" in err and "spec.invalid" in err


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_spec_prints_the_whole_spec_as_valid_json_or_yaml(capsys, fmt: str):
    code, out, _ = osiris(capsys, "components", "spec", "mysql.extractor", "--format", fmt)
    data = json.loads(out) if fmt == "json" else YAML(typ="safe").load(out)
    assert code == 0
    assert data["name"] == "mysql.extractor" and data["configSchema"]["type"] == "object"
    assert data["x-runtime"]["driver"] == "osiris_runtime.drivers.mysql.MySQLExtractor"


def test_unknown_component_exits_2_with_did_you_mean(capsys):
    code, out, err = osiris(capsys, "components", "spec", "mysql.extrator")
    assert code == 2 and out == ""
    assert "unknown component 'mysql.extrator'" in err
    assert "did you mean `mysql.extractor`?" in err
    assert "Traceback" not in err


def test_validate_all_specs_exits_0(capsys):
    code, out, _ = osiris(capsys, "components", "validate")
    assert code == 0
    for name in BUILTIN_NAMES:
        assert f"valid: {name}" in out


def test_validate_one_component_by_name_and_json(capsys):
    code, out, _ = osiris(capsys, "components", "validate", "supabase.writer", "--json")
    (result,) = json.loads(out)
    assert code == 0 and result["component"] == "supabase.writer" and result["valid"] is True


def test_validate_a_spec_file_with_a_broken_example_exits_2(capsys, tmp_path: Path, write_spec: SpecWriter):
    spec = minimal_spec("acme.extractor", examples=[{"title": "bad", "config": {"table": "t", "batch_size": 0}}])
    path = write_spec(tmp_path, spec)
    code, out, _ = osiris(capsys, "components", "validate", str(path))
    assert code == 2
    assert "invalid: acme.extractor" in out
    assert "spec.invalid-example" in out and "batch_size" in out
    code_dir, out_dir, _ = osiris(capsys, "components", "validate", str(path.parent), "--json")
    (result,) = json.loads(out_dir)
    assert code_dir == 2 and result["valid"] is False
    assert result["problems"][0]["code"] == "spec.invalid-example"


def test_validate_an_invalid_spec_file_exits_2_naming_file_and_field(capsys, tmp_path: Path, write_spec: SpecWriter):
    path = write_spec(tmp_path, minimal_spec("acme.extractor", version="one"))
    code, out, _ = osiris(capsys, "components", "validate", str(path))
    assert code == 2
    assert f"invalid: {path}" in out and "`version` does not match" in out


def test_validate_without_a_target_includes_invalid_workspace_specs(capsys, isolated_environment: Path,
                                                                    write_spec: SpecWriter):
    write_spec(isolated_environment / "components", minimal_spec("acme.extractor", modes=[]))
    code, out, _ = osiris(capsys, "components", "validate")
    assert code == 2 and "acme.extractor/spec.yaml" in out


def test_validate_a_folder_without_a_spec_exits_2(capsys, tmp_path: Path):
    code, _, err = osiris(capsys, "components", "validate", str(tmp_path))
    assert code == 2 and "no spec file" in err


def test_validate_an_unknown_name_exits_2(capsys):
    code, _, err = osiris(capsys, "components", "validate", "supabase.writr")
    assert code == 2 and "did you mean `supabase.writer`?" in err


def test_docs_writes_checks_and_prunes_pages(capsys, tmp_path: Path):
    out_dir = tmp_path / "docs"
    code, out, _ = osiris(capsys, "components", "docs", "--check", "--out", str(out_dir))
    assert code == 2
    code, out, _ = osiris(capsys, "components", "docs", "--out", str(out_dir))
    assert code == 0 and "README.md" in out
    assert {f"{n}.md" for n in BUILTIN_NAMES} <= {p.name for p in out_dir.iterdir()}
    code, out, _ = osiris(capsys, "components", "docs", "--check", "--out", str(out_dir))
    assert code == 0 and "up to date" in out
    # a generated page whose component is gone is removed; hand-written pages are kept
    (out_dir / "gone.extractor.md").write_text((out_dir / "mysql.writer.md").read_text())
    (out_dir / "notes.md").write_text("# my notes\n")
    code, _, err = osiris(capsys, "components", "docs", "--check", "--out", str(out_dir))
    assert code == 2 and "gone.extractor.md" in err
    osiris(capsys, "components", "docs", "--out", str(out_dir))
    assert not (out_dir / "gone.extractor.md").exists() and (out_dir / "notes.md").exists()


def test_the_installed_command_never_prints_a_traceback():
    result = subprocess.run([sys.executable, "-m", "osiris_runtime.cli.main", "components", "spec", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "unknown component 'nope'" in result.stderr
